"""Whether an output already there is a finished result of this run: same settings, same input, untouched.

Every output carries a tag, ``stylizer <settings digest> ...`` with the input's fingerprint in it, so that an
edited input no longer matches. The tag is stored inside the output where the format has room (PNG text,
JPEG comment, video metadata) and, where it has none (BMP, GIF, TIFF, AVI, MPEG-TS, ...), in a record
beside it: for a folder, a JSON line per output in ``OUT/.stylizer/finished.jsonl``; for a single image or
video, ``.NAME.stylizer`` next to it. A record holds the output's size and modification time, so that a
file replaced since is not taken for a result.

An output is then "finished" (its tag is this run's: skip it), "ours" (made by stylizer with other settings
or from another version of the input: make it again) or "foreign" (not made by stylizer: refused, since
replacing it could destroy someone's file; --force replaces it).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Literal

from stylizer.io import readers
from stylizer.io.writers import atomic_write_bytes
from stylizer.workdir import append_line, read_json_lines

PREFIX = "stylizer "
Status = Literal["finished", "ours", "foreign"]


def fingerprint(path: Path, block: int = 1 << 20) -> str:
    """The file's size and a hash of its first and last ``block`` bytes: cheap for a film or a folder of
    photos, and changed by any re-encode or edit that touches the header, the index or the length."""
    size = path.stat().st_size
    digest = hashlib.sha256(str(size).encode())
    with open(path, "rb") as f:
        digest.update(f.read(block))
        f.seek(max(0, size - block))
        digest.update(f.read(block))
    return digest.hexdigest()[:16]


def image_tag(digest: str, source: Path) -> str:
    """An image's tag: the run's settings and this input's content (64 KiB at each end: a photo's edit
    rewrites its entropy-coded data, and so both ends)."""
    return f"{PREFIX}{digest} source {fingerprint(source, 1 << 16)}"


def video_tag(digest: str, encoding: str) -> str:
    """A video's tag: its digest covers the input already; the encoding (--crf, --codec) is apart, so that
    another value re-encodes kept frames instead of making them again."""
    return f"{PREFIX}{digest} encoding {encoding}"


def same_settings(tag: str, digest: str) -> bool:
    """Whether ``tag`` was made with the settings of ``digest``, whatever its input (an image's tag of an
    earlier version, without a source fingerprint, counts too)."""
    return tag.split()[:2] == [PREFIX.strip(), digest]


def _stamp(path: Path) -> dict:
    stat = path.stat()
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def _recorded(record: dict | None, path: Path) -> str | None:
    if not record:
        return None
    try:
        unchanged = {k: record.get(k) for k in ("size", "mtime_ns")} == _stamp(path)
    except OSError:
        return None
    return record.get("tag") if unchanged else None


def sidecar(out: Path) -> Path:
    return out.with_name(f".{out.name}.stylizer")


class FolderRecords:
    """A folder's record of the outputs it finished, by path relative to the output folder."""

    def __init__(self, out: Path, state: Path):
        self.out = out
        self.path = state / "finished.jsonl"
        self.records = {record.get("output"): record for record in read_json_lines(self.path)}

    def add(self, output: Path, tag: str) -> None:
        """After the output is written (its size and time are what later runs compare)."""
        name = output.relative_to(self.out).as_posix()
        record = {"output": name, "tag": tag, **_stamp(output)}
        self.records[name] = record
        append_line(self.path, json.dumps(record))

    def tag_of(self, output: Path) -> str | None:
        return _recorded(self.records.get(output.relative_to(self.out).as_posix()), output)


def tag_of(out: Path, records: FolderRecords | None = None) -> str | None:
    """The tag stored in the output, else its record (the folder's, or the sidecar beside it)."""
    tag = readers.read_comment(out)
    if tag and tag.startswith(PREFIX):
        return tag
    if records is not None:
        return records.tag_of(out)
    try:
        record = json.loads(sidecar(out).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return _recorded(record, out)


def status(out: Path, tag: str, records: FolderRecords | None = None) -> Status:
    found = tag_of(out, records)
    if found == tag:
        return "finished"
    return "ours" if found else "foreign"


def confirm(out: Path, tag: str) -> None:
    """After a single image or video is written: a sidecar record where the format kept no tag (none
    otherwise, and an earlier one removed)."""
    side = sidecar(out)
    if readers.read_comment(out) == tag:
        side.unlink(missing_ok=True)
        return
    atomic_write_bytes(side, json.dumps({"tag": tag, **_stamp(out)}).encode())
