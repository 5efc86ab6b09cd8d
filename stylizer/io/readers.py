"""Streaming readers: videos (decoded by ffmpeg, one frame at a time), image folders and single images."""

from __future__ import annotations

import logging
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterator, Literal, Sequence

import cv2
import numpy as np
from PIL import Image, ImageOps

from stylizer.errors import InputError
from stylizer.io.media import StderrTail, ffmpeg_exe, ffmpeg_input, last_line, require_file, stop_process
from stylizer.io.probe import VideoInfo, probe_video

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
    # The file's own 16 bits per channel (PNG, TIFF), oriented like rgb and alpha: the output is finished
    # from these and written at 16 bits, so that a graded photo's smooth skies do not come back banded.
    rgb16: np.ndarray | None = None    # HxWx3 uint16
    alpha16: np.ndarray | None = None  # HxW uint16


_SIXTEEN_BIT_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N", "I"})
_ALPHA_MODES = frozenset({"RGBA", "RGBa", "LA", "La", "PA"})


def load_image(path: Path) -> LoadedImage:
    """Fully decode an image to 8-bit RGB (+ alpha); any unreadable file raises InputError with one line."""
    path = Path(path)
    require_file(path)
    if path.stat().st_size == 0:
        raise InputError(f"cannot read image {path}: the file is empty")
    try:
        with Image.open(path) as im:
            deep = _sixteen_bits(im)  # before load(), which clears the tile list it reads
            im.load()   # Image.open only reads the header; a truncated file fails only when decoded
            oriented = ImageOps.exif_transpose(im)
            rgb, alpha = _to_rgb8(oriented)
            exif = oriented.getexif()  # exif_transpose has removed the orientation tag from its copy
            loaded = LoadedImage(rgb, alpha, im.format or "unknown", im.info.get("icc_profile") or None,
                                 exif.tobytes() if len(exif) else None)
            if deep:
                _read_sixteen_bits(path, loaded, im.getexif().get(_ORIENTATION, 1))
            return loaded
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


_ORIENTATION = 0x0112
# EXIF orientation -> the numpy steps that display it, as ImageOps.exif_transpose does with Pillow's.
_ORIENT = {
    2: lambda a: a[:, ::-1],
    3: lambda a: a[::-1, ::-1],
    4: lambda a: a[::-1],
    5: lambda a: a.swapaxes(0, 1),
    6: lambda a: np.rot90(a, -1),
    7: lambda a: np.rot90(a, 2).swapaxes(0, 1),
    8: lambda a: np.rot90(a, 1),
}


def _sixteen_bits(im: Image.Image) -> bool:
    """Whether a PNG or TIFF holds 16 bits per channel. Pillow decodes 16-bit RGB(A) to 8 bits, so its
    mode does not tell; the raw mode it decodes from does ("RGB;16B", "RGBA;16N", "I;16" ...)."""
    if im.format not in ("PNG", "TIFF") or not im.tile:
        return False
    raw = im.tile[0].args[0] if isinstance(im.tile[0].args, tuple) else im.tile[0].args
    return isinstance(raw, str) and (";16" in raw or im.mode in _SIXTEEN_BIT_MODES)


def _read_sixteen_bits(path: Path, loaded: LoadedImage, orientation: int) -> None:
    """Fill rgb16/alpha16 through OpenCV (which keeps 16 bits), oriented as Pillow oriented the 8-bit
    copy; the 8-bit copy the optimiser sees is then rounded from them (Pillow's drops the low byte)."""
    pixels = cv2.imdecode(np.fromfile(path, np.uint8), cv2.IMREAD_UNCHANGED)
    if pixels is None or pixels.dtype != np.uint16:
        return  # a layout OpenCV reads differently (multi-page, planar ...): 8 bits, as before
    if pixels.ndim == 2:
        rgb16, alpha16 = np.repeat(pixels[:, :, None], 3, axis=2), None
    elif pixels.shape[2] == 4:
        rgb16, alpha16 = pixels[:, :, 2::-1], pixels[:, :, 3]
    else:
        rgb16, alpha16 = pixels[:, :, 2::-1], None
    turn = _ORIENT.get(orientation, lambda a: a)
    rgb16 = np.ascontiguousarray(turn(rgb16))
    if rgb16.shape != loaded.rgb.shape:
        return
    loaded.rgb16 = rgb16
    loaded.rgb = to_eight_bits(rgb16)
    if alpha16 is not None and loaded.alpha is not None:
        loaded.alpha16 = np.ascontiguousarray(turn(alpha16))
        loaded.alpha = to_eight_bits(loaded.alpha16)


def to_eight_bits(wide: np.ndarray) -> np.ndarray:
    """16-bit values rounded to the nearest of 256 levels (65535 = 255 x 257)."""
    return ((wide.astype(np.uint32) + 128) // 257).astype(np.uint8)


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
    import av

    try:
        with av.open(str(path)) as container:
            metadata = container.metadata
    except av.error.FFmpegError:
        return None
    # Matroska and WebM upper-case their tag names (COMMENT).
    comment = next((value for key, value in metadata.items() if key.lower() == "comment"), None)
    return comment.strip() if comment else None


# --------------------------------------------------------------------------------------------- any input

def detect_input_kind(path: Path) -> Literal["image", "folder", "video"]:
    """Classify an input by being a folder, then by extension, then by what Pillow or ffmpeg can open."""
    path = Path(path)
    if path.is_dir():
        return "folder"
    require_file(path)
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
