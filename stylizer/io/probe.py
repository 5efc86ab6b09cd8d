"""A video's stream facts (size, rate, rotation, frame count, colour matrix and range, transfer, sample
aspect ratio) and its frames' timestamps, read as numbers through PyAV (FFmpeg's own libraries).

The bundled ffmpeg binary has no ffprobe, and its human-readable stream dump words these facts differently
between versions; PyAV reads what the container and bitstream declare as FFmpeg's own fields and enums.

Untagged streams are read as players read them: BT.709 from 1280 wide or 720 high up, BT.601 below
(mpv, VLC and browsers agree on this cut), limited range unless the pixel format is a full-range one.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Sequence

from stylizer.errors import InputError
from stylizer.io.media import reason, require_file

# AVColorSpace -> the name swscale's in_color_matrix takes.
_MATRIX = {1: "bt709", 4: "fcc", 5: "bt470", 6: "smpte170m", 7: "smpte240m", 9: "bt2020", 10: "bt2020"}
# AVColorTransferCharacteristic of HDR signals: SMPTE ST 2084 (PQ) and ARIB STD-B67 (HLG).
_HDR_TRANSFER = {16: "pq", 18: "hlg"}


@dataclass(frozen=True)
class StreamShape:
    matrix: str        # the YUV->RGB matrix the frames are decoded with (swscale's name)
    full_range: bool   # 0-255 luma ("pc") rather than 16-235 ("tv")
    tagged: bool       # the matrix was declared by the stream, not guessed from the frame size
    transfer: str      # "sdr", "pq" or "hlg"
    sample_aspect: Fraction  # pixel width over height; 1 for square pixels

    @property
    def range(self) -> str:
        return "pc" if self.full_range else "tv"


SQUARE_SDR = StreamShape("bt601", False, False, "sdr", Fraction(1))  # what is assumed of an unreadable stream


@dataclass(frozen=True)
class VideoInfo:
    path: Path
    width: int                 # display size, in square pixels: the sample aspect ratio and the rotation
    height: int                # metadata applied (ffmpeg autorotates; the decode stretches anamorphic frames)
    fps: Fraction              # exact nominal rate, e.g. Fraction(30000, 1001); frames keep their own times
    frame_count: int | None    # as recorded by the container, None when it records none
    duration: float            # seconds
    rotation: int              # clockwise degrees (0/90/180/270) to turn stored frames for display
    has_audio: bool
    codec: str
    shape: StreamShape = SQUARE_SDR  # colour matrix and range the frames are decoded with, transfer, SAR
    stream: int = 0            # ffmpeg's index of the video stream decoded
    start: float = 0.0         # seconds: the container's start time (its earliest stream's first timestamp)
    lead: float = 0.0          # seconds from that start to the first frame (sound may begin before it)


def probe_video(path: Path) -> VideoInfo:
    """Stream facts of the first video stream that is not cover art (the one every decode maps, ``0:V:0``);
    decodes a single frame (for its display rotation), never the whole file. InputError if there is none."""
    import av

    path = Path(path)
    require_file(path)
    try:
        container = av.open(str(path))
    except av.error.FFmpegError as exc:
        raise InputError(f"cannot read video {path}: {reason(exc)}") from None
    with container:
        videos = [s for s in container.streams.video if not s.disposition & av.stream.Disposition.attached_pic]
        if not videos:
            raise InputError(f"no video stream in {path}")
        stream = videos[0]
        context = stream.codec_context
        if not context.width or not context.height:
            raise InputError(f"cannot read video {path}: unknown frame size")
        fps = stream.guessed_rate or stream.average_rate  # the rate ffmpeg's own decode assumes
        if not fps:
            raise InputError(f"cannot read video {path}: unknown frame rate")
        shape = _shape(stream)
        rotation = _first_frame_rotation(container, stream)
        frames = stream.frames or _tagged_frame_count(stream.metadata) or None
        if container.duration:
            duration = container.duration / av.time_base
        else:
            duration = float(frames / fps) if frames else 0.0
        width = max(1, round(context.width * shape.sample_aspect))  # anamorphic: decoded to square pixels
        height = context.height
        if rotation in (90, 270):
            width, height = height, width
        start = container.start_time / av.time_base if container.start_time is not None else 0.0
        first = float(stream.start_time * stream.time_base) if stream.start_time is not None else start
        return VideoInfo(path, width, height, Fraction(fps), frames, duration, rotation,
                         bool(container.streams.audio), context.name, shape, stream.index, start,
                         max(0.0, first - start))


def _first_frame_rotation(container, stream) -> int:
    """Clockwise display rotation (the convention of the ``rotate`` tag phones write); PyAV, like the
    display matrix, gives it counter-clockwise. 0 if no frame decodes (the decode then says why)."""
    import av

    try:
        for frame in container.decode(stream):
            return round(-frame.rotation / 90) % 4 * 90
    except av.error.FFmpegError:
        pass
    return 0


def _tagged_frame_count(metadata: dict) -> int | None:
    # Matroska files written by mkvmerge carry per-track statistics tags (NUMBER_OF_FRAMES, or -eng ...).
    for key, value in metadata.items():
        if key.upper().startswith("NUMBER_OF_FRAMES") and str(value).isdigit():
            return int(value)
    return None


def stream_shape(path: Path, index: int) -> StreamShape:
    """Facts of stream ``index`` (ffmpeg's numbering) of ``path``; square-pixel SDR guesses if unreadable."""
    import av

    try:
        with av.open(str(path)) as container:
            return _shape(container.streams[index])
    except (av.error.FFmpegError, IndexError, OSError):
        return SQUARE_SDR


def _shape(stream) -> StreamShape:
    context = stream.codec_context
    width, height = context.width, context.height
    colorspace, color_range, transfer = context.colorspace, context.color_range, context.color_trc
    pix_fmt = context.pix_fmt or ""
    sar = stream.sample_aspect_ratio or context.sample_aspect_ratio
    tagged = colorspace in _MATRIX
    matrix = _MATRIX.get(colorspace) or ("bt709" if width >= 1280 or height >= 720 else "bt601")
    # AVCOL_RANGE_JPEG (2), or a yuvj* format (JPEG-range by definition, as MJPEG from webcams).
    full = color_range == 2 or pix_fmt.startswith("yuvj")
    aspect = Fraction(sar) if sar and Fraction(sar) > 0 else Fraction(1)
    return StreamShape(matrix, full, tagged, _HDR_TRANSFER.get(transfer, "sdr"), aspect)


@dataclass(frozen=True)
class FrameTimes:
    """Presentation times of frames, in display order: ``pts[i] * time_base`` seconds."""

    time_base: Fraction
    pts: tuple[int, ...]

    @classmethod
    def constant(cls, fps: Fraction, count: int) -> "FrameTimes":
        return cls(1 / Fraction(fps), tuple(range(count)))

    def __len__(self) -> int:
        return len(self.pts)

    def seconds(self, i: int) -> float:
        return float(self.pts[i] * self.time_base)

    def select(self, indices: Sequence[int]) -> "FrameTimes":
        """The times of the frames kept (--start, --every, --max-frames), the first of them at 0: the output
        starts where its first frame does, and its sound is cut from there (writers._add_streams)."""
        origin = self.pts[indices[0]] if len(indices) else 0
        return FrameTimes(self.time_base, tuple(self.pts[i] - origin for i in indices))

    def to_json(self) -> dict:
        return {"time_base": str(self.time_base), "pts": list(self.pts)}

    @classmethod
    def from_json(cls, data: dict) -> "FrameTimes":
        return cls(Fraction(data["time_base"]), tuple(int(t) for t in data["pts"]))


def frame_times(path: Path, index: int) -> FrameTimes | None:
    """The presentation times of every frame stream ``index`` of ``path`` decodes to; None where the
    container records none. Read from the packets (no decoding): each holds one frame, and sorting their
    times puts B-frames in display order. Empty packets and those an edit list discards decode to nothing."""
    import av

    pts: list[int | None] = []
    time_base = None
    try:
        with av.open(str(path)) as container:
            stream = container.streams[index]
            time_base = stream.time_base
            for packet in container.demux(stream):
                if packet.size and not getattr(packet, "is_discard", False):
                    pts.append(packet.pts)
    except (av.error.FFmpegError, IndexError, OSError):
        pass  # a damaged tail: the frames before it keep their times (the caller checks the count)
    if not pts or time_base is None or any(t is None for t in pts):
        return None
    pts.sort()
    return FrameTimes(Fraction(time_base), tuple(pts))
