"""The work directory of a run: manifest (settings hash), lock, plan, finished frames written atomically.

A finished frame is a file that exists: frames are written under a temporary name and renamed, so a run
killed at any moment leaves only complete frames behind, and re-running continues after the last one.
Frames are kept at working size (the optimiser's own output, a few hundred KB at the default size whatever
the video's resolution) and enlarged to the output size only when the video is assembled.
"""

from __future__ import annotations

import fcntl
import json
import shutil
import time
from math import prod
from pathlib import Path

import numpy as np

from stylizer.errors import OutputError
from stylizer.settings import size_name
from stylizer.io.readers import load_image
from stylizer.io.writers import atomic_write_bytes, save_image

MANIFEST = "manifest.json"


class WorkDir:
    def __init__(self, path: Path):
        self.path = path
        self.frames = path / "frames"
        self.thumbs = self.frames / "thumbs"  # the input at thumbnail size, from the scan, for the report
        self._lock_file = None

    def open(self, settings_hash: str, source: Path, force: bool, options: dict | None = None) -> int:
        """Create or reuse the directory; returns how many finished frames are kept for resume.

        Different settings never mix: a manifest with another hash is refused unless ``force``; the refusal
        names the options that differ (``options``: Settings.hashed_options, kept in the manifest).
        """
        try:
            self.frames.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"cannot create work directory {self.path}: {exc.strerror}") from None
        self.lock()
        manifest = self.path / MANIFEST
        if manifest.is_file() and not force:
            try:
                previous = json.loads(manifest.read_text())
            except (OSError, ValueError):
                previous = {}
            if previous.get("settings") != settings_hash:
                from stylizer.settings import describe_changes

                changes = describe_changes(previous.get("options"), options or {})
                what = f" ({changes})" if changes else " (or another input)"
                raise OutputError(
                    f"{self.path} holds frames made with other settings{what}: re-run with the same options to "
                    "resume, or add --force to start over"
                )
        elif force:
            shutil.rmtree(self.frames, ignore_errors=True)
            self.frames.mkdir(parents=True, exist_ok=True)
        record = {"settings": settings_hash, "options": options, "source": str(source),
                  "updated": time.strftime("%Y-%m-%dT%H:%M:%S")}
        atomic_write_bytes(manifest, json.dumps(record, indent=1).encode())
        return len(self.finished())

    def lock(self) -> None:
        """One run per output: a second run on the same output refuses instead of interleaving frames."""
        self._lock_file = open(self.path / "lock", "w")
        try:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise OutputError(f"another stylize-video run is writing {self.path.parent} (its lock is held)") from None

    def frame_path(self, index: int) -> Path:
        return self.frames / f"{index:06d}.png"

    def partial_path(self, index: int, role: str) -> Path:
        """One chunk's version of a frame two chunks make (driver.py cross-fades them); ``role`` names which."""
        return self.frames / "fades" / f"{index:06d}.{role}.png"

    def save_partial(self, index: int, role: str, rgb: np.ndarray) -> None:
        save_image(self.partial_path(index, role), rgb, png_level=1)

    def load_path(self, path: Path) -> np.ndarray:
        return load_image(path).rgb

    def check_space(self, frames: int, shape: tuple[int, int], size: int) -> None:
        """Stop before the run rather than when the disk fills: frames still to make, at their raw size
        (stylised frames barely compress), against the free space."""
        needed = frames * prod(shape) * 3
        try:
            free = shutil.disk_usage(self.path).free
        except OSError:
            return
        if needed > free:
            raise OutputError(f"the {frames} frames still to make need about {needed / 2**20:.0f} MiB in "
                              f"{self.path} and {free / 2**20:.0f} MiB is free: free some space, or use a "
                              f"smaller --size than {size_name(size)}")

    def finished(self) -> set[int]:
        return {int(p.stem) for p in self.frames.glob("[0-9]*.png") if p.stem.isdigit()}

    def save(self, index: int, rgb: np.ndarray) -> None:
        # zlib level 1: a 1080p frame encodes 4x faster than at the default 6 (0.25 s against 1.0 s) for
        # 20% more bytes; these files only live until the video is assembled.
        save_image(self.frame_path(index), rgb, png_level=1)

    def load(self, index: int) -> np.ndarray:
        return self.load_path(self.frame_path(index))

    def thumb_path(self, index: int) -> Path:
        return self.thumbs / f"{index:06d}.png"

    def save_thumb(self, index: int, rgb: np.ndarray) -> None:
        save_image(self.thumb_path(index), rgb, png_level=1)

    def remove(self) -> None:
        self.close()
        shutil.rmtree(self.path, ignore_errors=True)

    def close(self) -> None:
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None


def lock_only(path: Path) -> WorkDir:
    """A work dir used only for its lock (folder runs keep their state in the output files themselves)."""
    work = WorkDir(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create {path}: {exc.strerror}") from None
    work.lock()
    return work


def append_line(path: Path, line: str) -> None:
    """Append one line to a file a run keeps adding to (raises OSError: each caller decides what it costs)."""
    with open(path, "a", encoding="utf-8") as f:
        f.write(line + "\n")


def read_json_lines(path: Path) -> list[dict]:
    """The records of a JSON-lines file that a run appends to; a line cut short by a kill is skipped."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    records = []
    for line in lines:
        try:
            records.append(json.loads(line))
        except ValueError:
            continue
    return records


def read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def write_json(path: Path, data: dict) -> None:
    atomic_write_bytes(path, json.dumps(data, indent=1, sort_keys=True).encode())
