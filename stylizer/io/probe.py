"""A video stream's colour and shape facts, read as numbers through PyAV (FFmpeg's own libraries).

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
