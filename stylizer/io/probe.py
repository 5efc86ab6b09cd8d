"""A video stream's colour and shape facts and its frames' timestamps, read as numbers through PyAV
(FFmpeg's own libraries).

The bundled ffmpeg binary has no ffprobe, and its human-readable stream dump words these facts differently
between versions; PyAV reads the codec parameters the container and bitstream declare (AVColorSpace,
AVColorRange, primaries, transfer, sample aspect ratio) as FFmpeg's enums.

Untagged streams are read as players read them: BT.709 from 1280 wide or 720 high up, BT.601 below
(mpv, VLC and browsers agree on this cut), limited range unless the pixel format is a full-range one.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Sequence

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


def stream_shape(path: Path, index: int) -> StreamShape:
    """Facts of stream ``index`` (ffmpeg's numbering) of ``path``; square-pixel SDR guesses if unreadable."""
    import av

    try:
        with av.open(str(path)) as container:
            stream = container.streams[index]
            context = stream.codec_context
            width, height = context.width, context.height
            colorspace, color_range, transfer = context.colorspace, context.color_range, context.color_trc
            pix_fmt = context.pix_fmt or ""
            sar = stream.sample_aspect_ratio or context.sample_aspect_ratio
    except (av.error.FFmpegError, IndexError, OSError):
        return SQUARE_SDR
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
