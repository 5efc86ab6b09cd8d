"""Writers that never leave a truncated file behind: images and videos go to a temporary name first."""

from __future__ import annotations

import contextlib
import errno
import io
import logging
import os
import re
import secrets
import subprocess
import struct
import tempfile
import zlib
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path
from typing import Iterable, Iterator

import cv2
import numpy as np
from PIL import Image, PngImagePlugin

from stylizer.errors import OutputError, UsageError
from stylizer.io.media import StderrTail, ffmpeg_exe, ffmpeg_input, last_line, reason, stop_process
from stylizer.io.probe import FrameTimes
from stylizer.io.readers import to_eight_bits

log = logging.getLogger(__name__)

_ALPHA_FORMATS = frozenset({"PNG", "WEBP", "TIFF"})
_MP4_FAMILY = frozenset({".mp4", ".mov", ".m4v"})

# RGB frames become BT.709 limited-range YUV with square pixels and are tagged so: players then convert
# them back with the same matrix instead of guessing (untagged HD video is often shown with BT.601 and
# shifted colours). setparams marks the frames too, since the encoders take the colour description from
# the frames (the -color_* options alone left transfer and primaries unspecified).
_YUV_FILTER = ("scale=out_color_matrix=bt709:out_range=tv,format=yuv420p,setsar=1,"
               "setparams=colorspace=bt709:color_primaries=bt709:color_trc=bt709:range=tv")
_YUV_TAGS = ("-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709", "-color_range", "tv")


# --------------------------------------------------------------------------------------------- files

def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write data to path so that readers see either the old file or the complete new one."""
    path = Path(path)
    with _atomic_target(path) as tmp:
        # 0o666 lets the umask decide the mode, as a plain open() would (mkstemp would force 0o600).
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())   # the data must be on disk before the rename makes it visible


@contextmanager
def _atomic_target(path: Path) -> Iterator[Path]:
    """Yield a temporary path next to `path`; it replaces `path` on success and is removed on any failure.

    OSErrors (disk full, permission denied ...) become one-line OutputErrors naming `path`.
    """
    tmp = _temp_name(path, "partial")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        yield tmp
        os.replace(tmp, path)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {reason(exc)}", whole_run=exc.errno in WHOLE_RUN) from None
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)   # already gone after a successful replace


def _temp_name(path: Path, tag: str) -> Path:
    # Same folder (os.replace must not cross file systems), hidden (folder listings skip it), and the
    # real suffix last so that ffmpeg picks the container from it.
    return path.with_name(f".{path.stem}.{secrets.token_hex(4)}.{tag}{path.suffix}")


_TEMP_NAME = re.compile(r"^\.(?P<stem>.*)\.[0-9a-f]{8}\.(partial|video)(?P<suffix>\.[^.]*)?$")


def remove_stale_temps(folder: Path, target: Path | None = None, recursive: bool = False) -> int:
    """Delete the temporary files a killed writer left in folder (of `target` only, if given); returns how many.

    Only call this while holding the lock of the output: a running writer's temporary file looks the same.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return 0
    removed = 0
    for path in (folder.rglob(".*") if recursive else folder.glob(".*")):
        match = _TEMP_NAME.match(path.name)
        if match is None or not path.is_file():
            continue
        if target is not None and (match["stem"], match["suffix"] or "") != (target.stem, target.suffix):
            continue
        with contextlib.suppress(OSError):
            path.unlink()
            removed += 1
    return removed


# A full or read-only file system fails every later item too; other errors belong to one path.
WHOLE_RUN = {errno.ENOSPC, errno.EROFS, errno.EDQUOT}


# --------------------------------------------------------------------------------------------- images

def save_image(path: Path, rgb: np.ndarray, alpha: np.ndarray | None = None,
               format: str | None = None, quality: int = 95, comment: str | None = None,
               png_level: int = 6, icc: bytes | None = None, exif: bytes | None = None) -> None:
    """Encode and atomically write an image; alpha is kept for PNG, WEBP and TIFF and dropped otherwise.
    ``png_level`` is zlib's effort for PNG (lossless at every level). ``icc`` (the colour profile the
    pixel values are in) and ``exif`` are kept where the format holds them. A uint16 ``rgb`` (and alpha)
    is written at 16 bits per channel in PNG and TIFF, and rounded to 8 bits in the other formats.

    `comment` is stored where the format has a place for it (PNG text chunk, JPEG comment) and read back
    by readers.read_comment; other formats drop it.
    """
    path = Path(path)
    fmt = _image_format(path, format)
    if alpha is not None and fmt not in _ALPHA_FORMATS:
        alpha = None
    if rgb.dtype == np.uint16 and fmt in _DEEP_FORMATS:
        try:
            data = _encode_deep(fmt, rgb, alpha, png_level, comment, icc, exif)
        except (ValueError, cv2.error) as exc:
            raise OutputError(f"cannot write {path}: 16-bit {fmt} encoding failed ({exc})") from None
        atomic_write_bytes(path, data)
        return
    image = _to_pil(_eight_bits(rgb), None if alpha is None else _eight_bits(alpha))
    options = {"quality": quality} if fmt in ("JPEG", "WEBP") else {}
    if fmt == "PNG":
        options["compress_level"] = png_level
    if icc and fmt in ("JPEG", "PNG", "WEBP", "TIFF", "AVIF", "HEIF"):
        options["icc_profile"] = icc
    if exif and fmt in ("JPEG", "PNG", "WEBP", "AVIF", "HEIF"):
        options["exif"] = exif
    if comment is not None and fmt == "JPEG":
        options["comment"] = comment
    elif comment is not None and fmt == "PNG":
        options["pnginfo"] = PngImagePlugin.PngInfo()
        options["pnginfo"].add_text("comment", comment)
    buffer = io.BytesIO()
    try:
        image.save(buffer, format=fmt, **options)
    except (KeyError, ValueError, OSError) as exc:
        raise OutputError(f"cannot write {path}: {fmt} encoding failed ({exc})") from None
    atomic_write_bytes(path, buffer.getvalue())


# Pillow writes no 16-bit colour images; OpenCV writes 16-bit PNG pixels (the chunks it has no options
# for are put in by hand) and tifffile 16-bit TIFF with its colour profile.
_DEEP_FORMATS = frozenset({"PNG", "TIFF"})


def _eight_bits(values: np.ndarray) -> np.ndarray:
    return to_eight_bits(values) if values.dtype == np.uint16 else values


def _encode_deep(fmt: str, rgb: np.ndarray, alpha: np.ndarray | None, png_level: int, comment: str | None,
                 icc: bytes | None, exif: bytes | None) -> bytes:
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected an HxWx3 image, got shape {rgb.shape}")
    if alpha is not None:
        alpha = alpha.astype(np.uint16) * 257 if alpha.dtype == np.uint8 else alpha
        pixels = np.dstack([rgb, alpha])
    else:
        pixels = rgb
    if fmt == "TIFF":
        import tifffile

        buffer = io.BytesIO()
        tifffile.imwrite(buffer, pixels, photometric="rgb", compression="zlib", iccprofile=icc,
                         extrasamples=["unassalpha"] if alpha is not None else None)
        return buffer.getvalue()
    bgr = cv2.cvtColor(pixels, cv2.COLOR_RGBA2BGRA if alpha is not None else cv2.COLOR_RGB2BGR)
    ok, encoded = cv2.imencode(".png", bgr, [cv2.IMWRITE_PNG_COMPRESSION, png_level])
    if not ok:
        raise ValueError("OpenCV's PNG encoder refused the image")
    chunks = b""
    if icc:
        chunks += _png_chunk(b"iCCP", b"ICC profile\0\0" + zlib.compress(icc))
    if exif:
        chunks += _png_chunk(b"eXIf", exif[6:] if exif.startswith(b"Exif\0\0") else exif)
    if comment is not None:
        chunks += _png_chunk(b"iTXt", b"comment\0\0\0\0\0" + comment.encode("utf-8"))
    data = encoded.tobytes()
    header_end = 8 + 8 + 13 + 4   # the signature, then IHDR (length, type, 13 bytes, CRC): chunks go after
    return data[:header_end] + chunks + data[header_end:]


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def _image_format(path: Path, format: str | None) -> str:
    """Pillow's format name from an explicit name ("jpg", "PNG") or else from the file suffix."""
    extensions = Image.registered_extensions()   # ".jpg" -> "JPEG", ".tif" -> "TIFF", ...
    if format:
        return extensions.get("." + format.lower(), format.upper())
    if path.suffix.lower() not in extensions:
        raise OutputError(f"cannot write {path}: unknown image format {path.suffix!r}")
    return extensions[path.suffix.lower()]


def _to_pil(rgb: np.ndarray, alpha: np.ndarray | None) -> Image.Image:
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected an HxWx3 uint8 image, got shape {rgb.shape} dtype {rgb.dtype}")
    if alpha is None:
        return Image.fromarray(np.ascontiguousarray(rgb), "RGB")
    if alpha.dtype != np.uint8 or alpha.shape != rgb.shape[:2]:
        raise ValueError(f"expected an HxW uint8 alpha matching {rgb.shape[:2]}, got {alpha.shape} {alpha.dtype}")
    return Image.fromarray(np.dstack([rgb, alpha]), "RGBA")


# --------------------------------------------------------------------------------------------- videos

def even_size(width: int, height: int) -> tuple[int, int]:
    """Round down to even dimensions (yuv420p halves both), never below 2."""
    return max(2, width - width % 2), max(2, height - height % 2)


def assemble_video(frames: Iterable[np.ndarray], out_path: Path, fps: Fraction, size: tuple[int, int],
                   audio_from: Path | None = None, crf: int = 18, codec: str = "libx264",
                   frame_count_hint: int | None = None, comment: str | None = None, audio_start: float = 0.0,
                   times: FrameTimes | None = None, video_delay: float = 0.0, start_time: float = 0.0) -> None:
    """Encode RGB frames (streamed into one ffmpeg) into out_path, one output frame per input, each at its
    time in ``times`` (a variable rate kept as it is), or at exactly ``fps`` without them.

    `size` is the (even) output (width, height); other-sized frames are resized to it. From `audio_from`,
    if given: every audio and subtitle track (copied; re-encoded only where the container refuses the
    codec), the chapters and the global metadata (creation time, location, ...), from `audio_start` seconds
    after the source's start and cut to the video's length, never the other way round; the first frame
    `video_delay` seconds after the sound's start (a stream whose sound begins first), and the whole output
    at `start_time` (the source's own, kept where the same kind of file holds it). A mux that fails even so raises
    OutputError (nothing written: the caller keeps its frames for a retry). `frame_count_hint` only serves
    to warn when the frames given turn out to be a different number. `comment` goes into the container's
    metadata.
    """
    out_path = Path(out_path)
    if tuple(size) != even_size(*size):
        raise ValueError(f"video size must be even and at least 2x2, got {size[0]}x{size[1]}")
    metadata = ["-metadata", f"comment={comment}"] if comment is not None else []
    with _atomic_target(out_path) as tmp:
        if audio_from is None:
            written, _ = _encode(frames, tmp, fps, times, size, crf, codec, out_path, metadata)
        else:
            # The other streams are added in a second, stream-copying pass: only then is the video length
            # known, and a refused copy can be retried without the (single-use) frames.
            video_only = _temp_name(out_path, "video")
            try:
                written, duration = _encode(frames, video_only, fps, times, size, crf, codec, out_path, metadata)
                failure = _add_streams(video_only, Path(audio_from), tmp, audio_start, duration, metadata,
                                       video_delay, start_time)
                if failure:
                    raise OutputError(f"cannot copy the sound, subtitles and metadata of {audio_from} into "
                                      f"{out_path}: {failure}")
            finally:
                with contextlib.suppress(OSError):
                    video_only.unlink(missing_ok=True)
    if frame_count_hint is not None and written != frame_count_hint:
        log.warning("%s: wrote %d frames, %d were expected", out_path, written, frame_count_hint)


def check_encoder(out_path: Path, codec: str, crf: int) -> None:
    """Encode two tiny frames exactly as ``assemble_video`` would, into a scratch file of the same kind.

    A codec ffmpeg lacks, or one the container cannot hold (H.264 in WebM), is then refused before hours
    of frames are computed rather than when the video is assembled at the end.
    """
    out_path = Path(out_path)
    blank = np.zeros((64, 64, 3), np.uint8)
    with tempfile.TemporaryDirectory(prefix="stylizer-encoder-") as scratch:
        probe = Path(scratch) / f"probe{out_path.suffix}"
        try:
            _encode([blank, blank], probe, Fraction(25), None, (64, 64), crf, codec, out_path)
        except OutputError as exc:
            reason = str(exc).split("ffmpeg failed: ", 1)[-1]
            raise UsageError(f"ffmpeg cannot write {codec} into {out_path.name} ({reason}); "
                             "use --codec libx264 with .mp4/.mkv/.mov or --codec libvpx-vp9 with .webm") from None


def _encode(frames: Iterable[np.ndarray], target: Path, fps: Fraction, times: FrameTimes | None,
            size: tuple[int, int], crf: int, codec: str, out_path: Path, metadata: list[str] = ()
            ) -> tuple[int, float]:
    """Pipe the frames into ffmpeg; return how many were written and the video's duration in seconds.
    Failures name out_path, not the temp file.

    The frames go in as NUT (muxed by PyAV: raw RGB with a timestamp each), which the encoder keeps
    (``-fps_mode passthrough``, in the input's time base): a raw pipe carries no timestamps, and would make
    a variable rate constant.
    """
    import av

    times = times or FrameTimes.constant(fps, 0)
    width, height = size
    command = [
        ffmpeg_exe(), "-hide_banner", "-v", "error", "-y", "-f", "nut", "-i", "pipe:0",
        "-an", "-vf", _YUV_FILTER, *_timing(target, fps, times),
        "-c:v", codec, "-crf", str(crf), *_YUV_TAGS, *metadata, *_container_flags(target), ffmpeg_input(target),
    ]
    proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    stderr = StderrTail(proc.stderr)
    written, pts = 0, -1
    try:
        with av.open(proc.stdin, "w", format="nut") as nut:
            stream = nut.add_stream("rawvideo", rate=fps)
            stream.width, stream.height, stream.pix_fmt = width, height, "rgb24"
            stream.time_base = times.time_base
            for frame in frames:
                picture = av.VideoFrame.from_ndarray(_fit(frame, size, written), format="rgb24")
                stamp = times.pts[written] if written < len(times) else pts + 1
                pts = max(pts + 1, stamp)  # strictly increasing, as muxers require (frames stamped alike)
                picture.pts, picture.time_base = pts, times.time_base
                nut.mux(stream.encode(picture))
                written += 1
            nut.mux(stream.encode())
        proc.stdin.close()
        returncode = proc.wait()
    except (BrokenPipeError, av.error.FFmpegError):   # ffmpeg quit early; its stderr says why
        returncode = proc.wait()
    finally:
        stop_process(proc)
        with contextlib.suppress(OSError):
            proc.stdin.close()   # after a kill, flushing leftovers into the dead pipe fails
        messages = stderr.join()
    if written == 0:
        raise OutputError(f"cannot write {out_path}: no frames to encode")
    if returncode != 0:
        raise OutputError(f"cannot write {out_path}: ffmpeg failed: {last_line(messages)}")
    return written, _duration(times, written, pts, fps)


def _timing(target: Path, fps: Fraction, times: FrameTimes) -> list[str]:
    """Each frame at its own time, in the input's time base; AVI holds only a constant rate (one index
    slot per frame), so there a variable rate is filled up to the nominal one."""
    if target.suffix.lower() == ".avi":
        return ["-fps_mode", "cfr", "-r", f"{fps.numerator}/{fps.denominator}"]
    base = times.time_base
    return ["-fps_mode", "passthrough", "-enc_time_base", f"{base.numerator}/{base.denominator}"]


def _duration(times: FrameTimes, written: int, last_pts: int, fps: Fraction) -> float:
    """The end of the last frame: its start plus the gap before it (one nominal frame for a single frame)."""
    step = Fraction(1, 1) / fps / times.time_base
    if 1 < written <= len(times):
        step = times.pts[written - 1] - times.pts[written - 2]
    return float((last_pts + step) * times.time_base)


def _fit(frame: np.ndarray, size: tuple[int, int], index: int) -> np.ndarray:
    if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(f"frame {index}: expected HxWx3 uint8, got shape {frame.shape} dtype {frame.dtype}")
    width, height = size
    if frame.shape[:2] != (height, width):
        shrinking = frame.shape[0] >= height and frame.shape[1] >= width
        frame = cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LANCZOS4)
    return np.ascontiguousarray(frame)


def _subtitle_codec(target: Path) -> str:
    """The text subtitle codec the container holds, for subtitles that cannot be copied as they are."""
    suffix = target.suffix.lower()
    if suffix in _MP4_FAMILY:
        return "mov_text"
    return "webvtt" if suffix == ".webm" else "srt"


# A seek copies from the keyframe before the start: those packets (stamped before 0) are dropped, or the
# muxer would shift every stream to fit them in and the picture would start late, after sound alone.
_BEFORE_START = r"noise=drop=lt(pts\,0)"


def _add_streams(video: Path, source: Path, target: Path, start: float, duration: float,
                 metadata: list[str] = (), delay: float = 0.0, start_time: float = 0.0) -> str | None:
    """Mux the video (``delay`` seconds after the sound's start) with every audio and subtitle track, the
    chapters and the global metadata of ``source`` (from ``start``, cut to the video's end) into target,
    all of it from ``start_time`` on; the failure if any."""
    command = [
        ffmpeg_exe(), "-hide_banner", "-nostdin", "-v", "error", "-y",
        # ffmpeg starts each input at 0 (the source at its earliest stream): the picture is put back where
        # it was against the sound.
        *(["-itsoffset", f"{delay:.6f}"] if delay > 0 else []), "-i", ffmpeg_input(video),
        # Input options: they seek and trim the source's streams only.
        *(["-ss", f"{start:.6f}"] if start > 0 else []), "-t", f"{delay + duration:.6f}", "-i", ffmpeg_input(source),
        "-map", "0:v:0", "-map", "1:a?", "-map", "1:s?", "-map_metadata", "1", "-map_chapters", "1",
        "-c:v", "copy", *metadata,  # after -map_metadata: the tag replaces any comment of the source
        *_start_at(target, start_time),
    ]
    # Copy keeps sound and subtitles untouched; a container that refuses a codec (pcm_u8 in MP4, SubRip in
    # MP4) gets its own text subtitle codec, then its default audio codec (AAC for MP4/MOV, Opus for WebM).
    # Picture subtitles (DVD, Blu-ray) have no text to convert: the last resort leaves them out, and says so.
    subtitles = _subtitle_codec(target)
    result = None
    for codecs in (("-c:a", "copy", "-c:s", "copy"), ("-c:a", "copy", "-c:s", subtitles), ("-c:s", subtitles),
                   ("-sn",)):
        cut = []  # only copied streams keep packets from before the seek point
        for kind in ("a", "s") if start > 0 else ():
            if f"-c:{kind} copy" in " ".join(codecs):
                cut += [f"-bsf:{kind}", _BEFORE_START]
        result = subprocess.run([*command, *codecs, *cut, *_container_flags(target), ffmpeg_input(target)],
                                stdin=subprocess.DEVNULL, capture_output=True, text=True, errors="replace")
        if result.returncode == 0:
            if codecs == ("-sn",):
                log.warning("the subtitles of %s are left out: a %s file cannot hold them", source, target.suffix)
            return None
    return last_line(result.stderr)


def _start_at(target: Path, start_time: float) -> list[str]:
    if start_time <= 0:
        return []
    # MPEG-TS delays every stream by a further 1.4 s by default (decoder buffering): not here, where the
    # source's own start already holds that margin.
    ts = ["-muxdelay", "0", "-muxpreload", "0"] if target.suffix.lower() in (".ts", ".mts", ".m2ts") else []
    return ["-output_ts_offset", f"{start_time:.6f}", *ts]


def _container_flags(target: Path) -> list[str]:
    # faststart moves the index to the front so the file plays while still downloading.
    return ["-movflags", "+faststart"] if target.suffix.lower() in _MP4_FAMILY else []
