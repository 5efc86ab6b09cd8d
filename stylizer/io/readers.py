"""Streaming readers: videos (decoded by ffmpeg, one frame at a time), image folders and single images."""

from __future__ import annotations

import logging
import os
import re
import struct
import subprocess
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import BinaryIO, Iterator, Literal, Sequence

import numpy as np
from PIL import Image, ImageOps

from stylizer.errors import InputError
from stylizer.io.media import (
    InputDump,
    StderrTail,
    StreamDump,
    ffmpeg_exe,
    ffmpeg_input,
    last_line,
    parse_input_dump,
    stop_process,
)
from stylizer.io.probe import SQUARE_SDR, StreamShape, stream_shape

log = logging.getLogger(__name__)

# Panoramas and large-sensor photos exceed Pillow's default limit (~89 MP); no limit at all would let a
# crafted file exhaust memory. Pillow refuses images over twice this value and warns above it.
Image.MAX_IMAGE_PIXELS = 200_000_000

try:
    import pillow_heif

    pillow_heif.register_heif_opener()
except ImportError:  # a dependency: only a broken install lacks it, and then HEIC files fail one by one
    pass

# HEIC/HEIF (phones' default) through pillow-heif, AVIF through Pillow itself.
IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".bmp", ".heic", ".heif", ".avif"})
VIDEO_EXTENSIONS = frozenset({
    ".mp4", ".mov", ".mkv", ".avi", ".webm", ".mpg", ".mpeg", ".m4v", ".wmv", ".flv", ".ts",
    ".mts", ".m2ts", ".3gp",
})

# Every decode selects the first video stream that is not cover art, so probe and decode agree.
_VIDEO_MAP = "0:V:0"


# --------------------------------------------------------------------------------------------- videos

@dataclass(frozen=True)
class VideoInfo:
    path: Path
    width: int                 # display size, in square pixels: the sample aspect ratio and the rotation
    height: int                # metadata applied (ffmpeg autorotates; the decode stretches anamorphic frames)
    fps: Fraction              # exact nominal rate, e.g. Fraction(30000, 1001)
    frame_count: int | None    # as recorded by the container, None when it records none
    duration: float            # seconds
    rotation: int              # clockwise degrees (0/90/180/270) to turn stored frames for display
    has_audio: bool
    codec: str
    shape: StreamShape = SQUARE_SDR  # colour matrix and range the frames are decoded with, transfer, SAR
    stream: int = 0            # ffmpeg's index of the video stream decoded


def probe_video(path: Path) -> VideoInfo:
    """Read a video's stream facts; decodes a single frame (for the exact frame rate), never the whole file."""
    path = Path(path)
    _require_file(path)
    # At "verbose" ffmpeg logs the exact rate of the decoded stream ("fr:30000/1001") when it sets up
    # the filter graph for the first frame; the input dump itself only prints it rounded ("29.97 fps").
    result = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-nostdin", "-v", "verbose", "-i", ffmpeg_input(path),
         "-map", _VIDEO_MAP, "-frames:v", "1", "-f", "null", "-"],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, errors="replace",
    )
    dump = parse_input_dump(result.stderr)
    if dump is None:
        raise InputError(f"cannot read video {path}: {last_line(result.stderr)}")
    stream = _mapped_video_stream(path, dump, result.stderr)
    coded = re.search(r", (\d+)x(\d+)", stream.header)
    if coded is None:
        raise InputError(f"cannot read video {path}: unknown frame size")
    width, height = int(coded[1]), int(coded[2])
    shape = stream_shape(path, stream.index)
    width = max(1, round(width * shape.sample_aspect))  # anamorphic (DVD, HDV): decoded to square pixels
    rotation = _rotation(stream)
    if rotation in (90, 270):
        width, height = height, width
    fps = _exact_fps(result.stderr) or _printed_fps(stream)
    if fps is None:
        raise InputError(f"cannot read video {path}: unknown frame rate")
    frame_count = _container_frame_count(path, dump, stream)
    duration = dump.duration
    if duration is None:
        duration = float(frame_count / fps) if frame_count else 0.0
    return VideoInfo(path, width, height, fps, frame_count, duration, rotation, dump.has_audio, stream.codec,
                     shape, stream.index)


def count_frames(path: Path) -> int:
    """Exact number of frames iter_video_frames yields, found by decoding the whole video."""
    path = Path(path)
    probe_video(path)  # a clear error for what is not a video
    result = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-nostdin", "-v", "error", "-nostats", "-progress", "pipe:1",
         "-i", ffmpeg_input(path), "-map", _VIDEO_MAP, "-fps_mode", "passthrough", "-f", "null", "-"],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, errors="replace",
    )
    counts = re.findall(r"^frame=(\d+)$", result.stdout, re.MULTILINE)
    if not counts or counts[-1] == "0":
        raise InputError(f"cannot decode video {path}: not a single frame decodes ({last_line(result.stderr)})")
    return int(counts[-1])


def iter_video_frames(path: Path, start: int = 0, size: tuple[int, int] | None = None
                      ) -> Iterator[tuple[int, np.ndarray]]:
    """Yield (frame_index, HxWx3 uint8 RGB) for every decoded frame, once each, in display order, one frame
    in memory at a time. A variable-frame-rate file is not resampled to its nominal rate (that would repeat
    frames to fill its gaps): its frames keep their own timestamps (probe.frame_times), and so does the output.

    ``size`` (width, height) scales inside ffmpeg (area averaging), so a scan at thumbnail size neither
    converts nor pipes full-size frames.

    Frames before `start` are decoded but dropped inside ffmpeg (no RGB conversion, no pipe traffic):
    seeking by timestamp instead would not reproduce the same frame indices as a full decode.
    Decode errors after the first frame end the iteration with a warning; a file where not even one
    frame decodes raises InputError.
    """
    path = Path(path)
    info = probe_video(path)
    # `-fps_mode passthrough` below: the rawvideo muxer would otherwise default to cfr, duplicating frames
    # into a variable rate's gaps and padding the frames trim removed back in.
    filters = [f"trim=start_frame={start}"] if start else []
    # A mid-stream resolution change would otherwise shift every later frame in the raw pipe.
    width, height = size or (info.width, info.height)
    filters += _to_rgb(info, width, height, area=size is not None)
    proc = subprocess.Popen(
        [ffmpeg_exe(), "-hide_banner", "-nostdin", "-v", "error", "-i", ffmpeg_input(path),
         "-map", _VIDEO_MAP, "-vf", ",".join(filters), "-fps_mode", "passthrough",
         "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    stderr = StderrTail(proc.stderr)
    index = start
    try:
        while (frame := _read_frame(proc.stdout, height, width)) is not None:
            yield index, frame
            index += 1
        returncode = proc.wait()
    finally:
        stop_process(proc)
        proc.stdout.close()
        problems = stderr.join()
    if index == start and (start == 0 or returncode != 0):
        raise InputError(f"cannot decode video {path}: not a single frame decodes ({last_line(problems)})")
    if problems:
        log.warning("%s: ffmpeg reported decode errors (%d frames read): %s", path, index - start, last_line(problems))


# HDR to SDR: to linear light with SDR white at 100 nits, BT.2020 to BT.709 primaries, then Mobius's curve:
# linear (unchanged) up to a knee at 30% of white and a smooth roll-off of the highlights above, so that a
# scene's diffuse tones look as a SDR grade of it would. (Hable's filmic curve, the other usual choice,
# darkens the mid-tones by about a third: the picture the style is fitted to would then be too dark.)
_TONE_MAP = ["zscale=t=linear:npl=100", "format=gbrpf32le", "zscale=p=bt709", "tonemap=tonemap=mobius:desat=0",
             "zscale=t=bt709:m=bt709:r=tv", "format=yuv420p"]


def _to_rgb(info: VideoInfo, width: int, height: int, area: bool) -> list[str]:
    """Filters from the decoded frames to RGB at (width, height), as a player would show them."""
    matrix, in_range = info.shape.matrix, info.shape.range
    filters = []
    if info.shape.transfer != "sdr":
        filters, matrix, in_range = list(_TONE_MAP), "bt709", "tv"
    # The matrix and range named, not left to swscale, whose default for every untagged stream is BT.601
    # limited range: players show untagged HD as BT.709 (io/probe.py), and the output is written as BT.709.
    filters.append(f"scale={width}:{height}:in_color_matrix={matrix}:in_range={in_range}"
                   + (":flags=area" if area else ""))
    return filters


def _read_frame(stream: BinaryIO, height: int, width: int) -> np.ndarray | None:
    """Read one raw frame straight into a fresh array; None at the end (a partial last frame is dropped)."""
    frame = np.empty((height, width, 3), np.uint8)
    view = memoryview(frame).cast("B")
    filled = 0
    while filled < len(view):
        got = stream.readinto(view[filled:])
        if not got:
            return None
        filled += got
    return frame


def _mapped_video_stream(path: Path, dump: InputDump, stderr: str) -> StreamDump:
    mapped = re.search(r"Stream #0:(\d+) -> #0:0", stderr)
    stream = None if mapped is None else dump.stream(int(mapped[1]))
    if stream is not None:
        return stream
    if any(s.kind == "Video" and "(attached pic)" not in s.header for s in dump.streams):
        raise InputError(f"cannot decode video {path}: {last_line(stderr)}")
    raise InputError(f"no video stream in {path}")


def _rotation(stream: StreamDump) -> int:
    """Clockwise display rotation, the convention of the legacy `rotate` tag phones write.

    ffmpeg turns such tags into the display matrix it prints, whose angle is counter-clockwise.
    """
    for detail in stream.details:
        matrix = re.search(r"rotation of (-?[\d.]+) degrees", detail)
        if matrix:
            return round(-float(matrix[1]) / 90) % 4 * 90
    return 0


def _exact_fps(stderr: str) -> Fraction | None:
    rate = re.search(r" fr:(\d+)/(\d+)", stderr)
    if rate is None or int(rate[1]) == 0 or int(rate[2]) == 0:
        return None
    return Fraction(int(rate[1]), int(rate[2]))


def _printed_fps(stream: StreamDump) -> Fraction | None:
    """Fallback when no frame decoded: the rate the dump prints, rounded to 2 decimals by ffmpeg."""
    for unit in ("tbr", "fps"):
        printed = re.search(rf"([\d.]+)(k?) {unit}\b", stream.header)
        if printed:
            value = float(printed[1]) * (1000 if printed[2] else 1)
            return _rate_from_rounded(value) if value > 0 else None
    return None


def _rate_from_rounded(value: float) -> Fraction:
    if abs(value - round(value)) < 0.005:
        return Fraction(round(value))
    # NTSC-family rates (23.976, 29.97, 59.94 ...) are N*1000/1001.
    ntsc = Fraction(round(value * 1.001) * 1000, 1001)
    if abs(float(ntsc) - value) < 0.006:
        return ntsc
    return Fraction(value).limit_denominator(100)


def _container_frame_count(path: Path, dump: InputDump, stream: StreamDump) -> int | None:
    for detail in stream.details:
        # Matroska files written by mkvmerge carry per-track statistics tags.
        tag = re.match(r"NUMBER_OF_FRAMES(?:-\w+)?\s*:\s*(\d+)$", detail)
        if tag:
            return int(tag[1])
    if dump.format.startswith("mov,mp4"):
        return _mp4_sample_count(path, stream.index)
    return None


def _mp4_sample_count(path: Path, track_index: int) -> int | None:
    """Sample count of the n-th track (ffmpeg's stream n) from its `stsz` box; None if absent or fragmented."""
    try:
        moov = _read_top_level_box(path, b"moov")
    except OSError:
        return None
    if moov is None:
        return None
    tracks = [(s, e) for kind, s, e in _boxes(moov, 0, len(moov)) if kind == b"trak"]
    if track_index >= len(tracks):
        return None
    stsz = _find_box(moov, *tracks[track_index], (b"mdia", b"minf", b"stbl", b"stsz"))
    if stsz is None or stsz[1] - stsz[0] < 12:
        return None
    count = struct.unpack_from(">I", moov, stsz[0] + 8)[0]   # after version/flags and sample_size
    return count or None


def _read_top_level_box(path: Path, wanted: bytes, limit: int = 256 << 20) -> bytes | None:
    """Payload of a top-level box, seeking over the others (the moov often sits after a huge mdat)."""
    with path.open("rb") as f:
        end = f.seek(0, os.SEEK_END)
        pos = 0
        while pos + 8 <= end:
            f.seek(pos)
            size, kind = struct.unpack(">I4s", f.read(8))
            header = 8
            if size == 1:
                size, header = struct.unpack(">Q", f.read(8))[0], 16
            elif size == 0:
                size = end - pos
            if size < header:
                return None
            if kind == wanted:
                return f.read(size - header) if size - header <= limit else None
            pos += size
    return None


def _boxes(data: bytes, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """(type, payload start, payload end) of the boxes laid out in data[start:end]."""
    pos = start
    while pos + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, pos)
        header = 8
        if size == 1 and pos + 16 <= end:
            size, header = struct.unpack_from(">Q", data, pos + 8)[0], 16
        elif size == 0:
            size = end - pos
        if size < header or pos + size > end:
            return
        yield kind, pos + header, pos + size
        pos += size


def _find_box(data: bytes, start: int, end: int, path: tuple[bytes, ...]) -> tuple[int, int] | None:
    for kind, payload_start, payload_end in _boxes(data, start, end):
        if kind == path[0]:
            if len(path) == 1:
                return payload_start, payload_end
            return _find_box(data, payload_start, payload_end, path[1:])
    return None


# --------------------------------------------------------------------------------------------- folders

def natural_key(path: Path) -> tuple:
    """Sort key putting "frame2" before "frame10", case-insensitively, compared path component by component."""
    # re.split with a capturing group alternates text and digit runs, so ints only ever meet ints.
    # [0-9] rather than \d: int() rejects other Unicode digits such as "²".
    parts = tuple(
        tuple(int(chunk) if i % 2 else chunk for i, chunk in enumerate(re.split(r"([0-9]+)", part.casefold())))
        for part in Path(path).parts
    )
    return parts, str(path)   # the raw string breaks ties such as "a01" / "a1" deterministically


def list_images(folder: Path, recursive: bool = False,
                exclude: Sequence[Path] = ()) -> tuple[list[Path], list[Path]]:
    """Return (images, skipped non-image files) under folder, each sorted naturally by relative path.

    Hidden files and folders and everything inside an `exclude` folder (the tool's own output or work
    folder, possibly nested in the input) are ignored altogether.
    """
    folder = Path(folder)
    excluded = [Path(e).resolve() for e in exclude]
    images: list[Path] = []
    skipped: list[Path] = []
    for directory, subdirs, files in os.walk(folder):
        here = Path(directory)
        if _is_excluded(here, excluded):
            subdirs.clear()
            continue
        # Pruning in place stops os.walk from descending.
        subdirs[:] = [d for d in subdirs if recursive and not d.startswith(".")]
        for name in files:
            if name.startswith("."):
                continue
            file = here / name
            (images if file.suffix.lower() in IMAGE_EXTENSIONS else skipped).append(file)

    def by_relative_path(p: Path) -> tuple:
        return natural_key(p.relative_to(folder))

    return sorted(images, key=by_relative_path), sorted(skipped, key=by_relative_path)


def _is_excluded(directory: Path, excluded: list[Path]) -> bool:
    resolved = directory.resolve()
    return any(resolved == e or e in resolved.parents for e in excluded)


# --------------------------------------------------------------------------------------------- images

@dataclass
class LoadedImage:
    rgb: np.ndarray            # HxWx3 uint8, EXIF orientation applied
    alpha: np.ndarray | None   # HxW uint8 when the image has transparency, else None
    format: str                # Pillow format name, e.g. "JPEG", "PNG"
    icc: bytes | None = None   # the colour profile the pixel values are in (Display P3, Adobe RGB, ...)
    exif: bytes | None = None  # date taken, camera, location ...; orientation reset, since it is applied


_SIXTEEN_BIT_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N", "I"})
_ALPHA_MODES = frozenset({"RGBA", "RGBa", "LA", "La", "PA"})


def load_image(path: Path) -> LoadedImage:
    """Fully decode an image to 8-bit RGB (+ alpha); any unreadable file raises InputError with one line."""
    path = Path(path)
    _require_file(path)
    if path.stat().st_size == 0:
        raise InputError(f"cannot read image {path}: the file is empty")
    try:
        with Image.open(path) as im:
            im.load()   # Image.open only reads the header; a truncated file fails only when decoded
            oriented = ImageOps.exif_transpose(im)
            rgb, alpha = _to_rgb8(oriented)
            exif = oriented.getexif()  # exif_transpose has removed the orientation tag from its copy
            return LoadedImage(rgb, alpha, im.format or "unknown", im.info.get("icc_profile") or None,
                               exif.tobytes() if len(exif) else None)
    except PermissionError:
        raise InputError(f"cannot read image {path}: permission denied") from None
    except Image.UnidentifiedImageError:
        raise InputError(f"cannot read image {path}: not an image or an unsupported format") from None
    except Image.DecompressionBombError as exc:
        raise InputError(f"cannot read image {path}: too large ({exc})") from None
    except Exception as exc:
        # Pillow's decoders report malformed data with many exception types (OSError, SyntaxError,
        # struct.error, IndexError ...); they all mean this one file is unusable.
        raise InputError(f"cannot read image {path}: truncated or corrupt ({_one_line(exc)})") from None


def _to_rgb8(im: Image.Image) -> tuple[np.ndarray, np.ndarray | None]:
    if im.mode in _SIXTEEN_BIT_MODES:
        # convert("RGB") would clip 16-bit values at 255; rescale the full range instead.
        wide = np.clip(np.asarray(im, dtype=np.int64), 0, 65535)
        gray = ((wide * 255 + 32767) // 65535).astype(np.uint8)
        return np.repeat(gray[:, :, None], 3, axis=2), None
    if im.mode in _ALPHA_MODES or "transparency" in im.info:
        rgba = np.array(im.convert("RGBA"))
        return np.ascontiguousarray(rgba[:, :, :3]), np.ascontiguousarray(rgba[:, :, 3])
    return np.array(im.convert("RGB")), None


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def read_comment(path: Path) -> str | None:
    """The comment the writers stored in an output (PNG text, JPEG comment, video metadata); None if none."""
    path = Path(path)
    if not path.is_file():
        return None
    if path.suffix.lower() in IMAGE_EXTENSIONS:
        try:
            with Image.open(path) as im:
                comment = im.info.get("comment")
        except Exception:
            return None
        return comment.decode("utf-8", "replace") if isinstance(comment, bytes) else comment
    result = subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", ffmpeg_input(path)],
                            stdin=subprocess.DEVNULL, capture_output=True, text=True, errors="replace")
    # Matroska and WebM upper-case their tag names (COMMENT).
    match = re.search(r"^ {4}comment\s*: (.*)$", result.stderr, re.MULTILINE | re.IGNORECASE)
    return match[1].strip() if match else None


# --------------------------------------------------------------------------------------------- any input

def detect_input_kind(path: Path) -> Literal["image", "folder", "video"]:
    """Classify an input by being a folder, then by extension, then by what Pillow or ffmpeg can open."""
    path = Path(path)
    if path.is_dir():
        return "folder"
    _require_file(path)
    suffix = path.suffix.lower()
    if suffix in IMAGE_EXTENSIONS:
        return "image"
    if suffix in VIDEO_EXTENSIONS:
        return "video"
    if _pillow_recognises(path):
        return "image"
    try:
        probe_video(path)
    except InputError:
        raise InputError(f"{path} is neither a readable image nor a video") from None
    return "video"


def _pillow_recognises(path: Path) -> bool:
    try:
        with Image.open(path):   # reads the header only
            return True
    except Exception:
        # Whatever the reason, the answer is "not an image Pillow can use"; ffmpeg gets its turn.
        return False


def _require_file(path: Path) -> None:
    if not path.exists():
        raise InputError(f"cannot read {path}: no such file")
    if not path.is_file():
        raise InputError(f"cannot read {path}: not a regular file")
