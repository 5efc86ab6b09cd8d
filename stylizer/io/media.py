"""Helpers around the ffmpeg binary shipped with imageio-ffmpeg (which decodes and encodes; stream facts
are read through PyAV, io/probe.py)."""

from __future__ import annotations

import functools
import re
import subprocess
import threading
from collections import deque
from pathlib import Path
from typing import IO

from stylizer.errors import InputError

_LOG_PREFIX = re.compile(r"^(\[[^\]]*@ ?0x[0-9a-f]+\]\s*)+")   # "[vist#0:0/h264 @ 0x..] [dec:h264 @ 0x..] "


@functools.cache
def ffmpeg_exe() -> str:
    # Imported here: image-only use (and the GPU benchmark machine) needs no ffmpeg binary.
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def ffmpeg_input(path: Path) -> str:
    # The explicit protocol keeps names like "pipe:1" or "a:b.mp4" from being taken for other protocols.
    return f"file:{path}"


def reason(exc: Exception) -> str:
    """An OS or FFmpeg error's own words (its strerror), else its text, else its type."""
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


def require_file(path: Path) -> None:
    if not path.exists():
        raise InputError(f"cannot read {path}: no such file")
    if not path.is_file():
        raise InputError(f"cannot read {path}: not a regular file")


def last_line(stderr: str) -> str:
    """The last non-empty stderr line without its "[decoder @ 0x...]" prefix: usually the actual reason."""
    for line in reversed(stderr.splitlines()):
        line = _LOG_PREFIX.sub("", line.strip())
        # At verbose level ffmpeg ends with its exit code, which says less than the line before it.
        if line and not line.startswith("Exiting with exit code"):
            return line
    return "ffmpeg failed without a message"


class StderrTail:
    """Drains a child's stderr on a thread, keeping the last lines.

    A corrupt video can make ffmpeg print thousands of errors; an undrained pipe would fill up
    and block ffmpeg while we wait on its stdout.
    """

    def __init__(self, stream: IO[bytes], keep: int = 40) -> None:
        self._stream = stream
        self._lines: deque[str] = deque(maxlen=keep)
        self._thread = threading.Thread(target=self._drain, daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        for raw in iter(self._stream.readline, b""):
            self._lines.append(raw.decode("utf-8", "replace").rstrip())
        self._stream.close()

    def join(self) -> str:
        """Wait for the child to close stderr and return what was kept."""
        self._thread.join()
        return "\n".join(self._lines)


def stop_process(proc: subprocess.Popen) -> None:
    """Kill a child still running (the consumer gave up early or failed) and reap it."""
    if proc.poll() is None:
        proc.kill()
    proc.wait()
