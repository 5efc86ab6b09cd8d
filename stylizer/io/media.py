"""Helpers around the ffmpeg binary shipped with imageio-ffmpeg.

No ffprobe is available, so stream facts come from the input dump ffmpeg prints on stderr.
"""

from __future__ import annotations

import functools
import re
import subprocess
import threading
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from stylizer.errors import InputError

_INPUT_HEADER = re.compile(r"^Input #0, (?P<format>.+), from ")
_STREAM_HEADER = re.compile(r"^(?P<indent>\s*)Stream #0:(?P<index>\d+)\S*: (?P<kind>\w+): (?P<codec>\w+)")
_DURATION = re.compile(r"Duration: (\d+):(\d+):(\d+(?:\.\d+)?)")
_LOG_PREFIX = re.compile(r"^(\[[^\]]*@ ?0x[0-9a-f]+\]\s*)+")   # "[vist#0:0/h264 @ 0x..] [dec:h264 @ 0x..] "


@functools.cache
def ffmpeg_exe() -> str:
    # Imported here: image-only use (and the GPU benchmark machine) needs no ffmpeg binary.
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def ffmpeg_input(path: Path) -> str:
    # The explicit protocol keeps names like "pipe:1" or "a:b.mp4" from being taken for other protocols.
    return f"file:{path}"


@dataclass(frozen=True)
class StreamDump:
    index: int
    kind: str                  # "Video", "Audio", "Subtitle", "Data", ...
    codec: str
    header: str                # the "Stream #0:N ..." line itself
    details: tuple[str, ...]   # the indented metadata / side-data lines under it


@dataclass(frozen=True)
class InputDump:
    format: str
    duration: float | None
    streams: tuple[StreamDump, ...]

    def stream(self, index: int) -> StreamDump | None:
        return next((s for s in self.streams if s.index == index), None)

    @property
    def has_audio(self) -> bool:
        return any(s.kind == "Audio" for s in self.streams)


def parse_input_dump(stderr: str) -> InputDump | None:
    """Parse the "Input #0" section of ffmpeg's stderr; None when ffmpeg could not open the input."""
    lines = stderr.splitlines()
    start = next((i for i, line in enumerate(lines) if _INPUT_HEADER.match(line)), None)
    if start is None:
        return None
    section = [lines[start]]
    # The dump is printed in one piece and every line of it but the first is indented.
    for line in lines[start + 1:]:
        if not line[:1].isspace():
            break
        section.append(line)
    duration = _DURATION.search("\n".join(section))
    return InputDump(
        format=_INPUT_HEADER.match(section[0]).group("format"),
        duration=None if duration is None else
        int(duration[1]) * 3600 + int(duration[2]) * 60 + float(duration[3]),
        streams=_parse_streams(section),
    )


def _parse_streams(section: list[str]) -> tuple[StreamDump, ...]:
    streams = []
    for i, line in enumerate(section):
        match = _STREAM_HEADER.match(line)
        if match is None:
            continue
        indent = len(match["indent"])
        details = []
        for detail in section[i + 1:]:
            if len(detail) - len(detail.lstrip()) <= indent:
                break
            details.append(detail.strip())
        streams.append(StreamDump(int(match["index"]), match["kind"], match["codec"], line.strip(), tuple(details)))
    return tuple(streams)


def probe_input(path: Path) -> InputDump:
    """The streams of any media file; InputError if ffmpeg cannot open it.

    `ffmpeg -i` alone prints the dump, then exits complaining that no output was given.
    """
    result = subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", ffmpeg_input(path)],
                            stdin=subprocess.DEVNULL, capture_output=True, text=True, errors="replace")
    dump = parse_input_dump(result.stderr)
    if dump is None:
        raise InputError(f"cannot read {path}: {last_line(result.stderr)}")
    return dump


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
