"""Writers: atomic files, images with and without alpha, and videos checked by decoding them back."""

from __future__ import annotations

import errno
import os
from fractions import Fraction
from pathlib import Path
from typing import Iterator

import av
import numpy as np
import pytest

from conftest_media import make_video
from stylizer.errors import OutputError
from stylizer.io import writers
from stylizer.io.readers import count_frames, iter_video_frames, load_image, probe_video
from stylizer.io.writers import assemble_video, atomic_write_bytes, even_size, save_image

NTSC = Fraction(30000, 1001)


def audio_codecs(path: Path) -> list[str]:
    with av.open(str(path)) as container:
        return [s.codec_context.name for s in container.streams.audio]


def leftovers(folder: Path) -> list[str]:
    """Temporary files the writers would have left behind (they are hidden: ".name.<token>.<tag>.ext")."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def picture(height: int = 48, width: int = 64, shade: int = 0) -> np.ndarray:
    frame = np.zeros((height, width, 3), np.uint8)
    frame[: height // 2, : width // 2] = (200, 30, 60)
    frame[: height // 2, width // 2:] = (20, 180, 90)
    frame[height // 2:, : width // 2] = (40, 60, 220)
    frame[height // 2:, width // 2:] = (shade, 128, 255 - shade)
    return frame


def frames(count: int, height: int = 48, width: int = 64) -> Iterator[np.ndarray]:
    return (picture(height, width, shade=i * 7 % 256) for i in range(count))


# --------------------------------------------------------------------------------------------- files

def test_atomic_write_creates_parents_replaces_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "data.bin"
    atomic_write_bytes(target, b"first")
    atomic_write_bytes(target, b"second")
    assert target.read_bytes() == b"second"
    assert leftovers(target.parent) == []
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask


def test_atomic_write_failure_keeps_old_file_and_no_partial(tmp_path: Path, monkeypatch) -> None:
    target = tmp_path / "data.bin"
    target.write_bytes(b"old")

    def disk_full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(writers.os, "fsync", disk_full)
    with pytest.raises(OutputError, match="cannot write .*data.bin: No space left on device"):
        atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"old"
    assert leftovers(tmp_path) == []


def test_unwritable_location_is_an_output_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError) as exc:
        save_image(tmp_path / "file" / "out.png", picture())
    assert "\n" not in str(exc.value) and "out.png" in str(exc.value)


# --------------------------------------------------------------------------------------------- images

@pytest.mark.parametrize("suffix", [".png", ".tif", ".webp"])
def test_alpha_is_kept_where_the_format_has_it(tmp_path: Path, suffix: str) -> None:
    rgb, alpha = picture(), np.tile(np.arange(64, dtype=np.uint8) * 4, (48, 1))
    save_image(tmp_path / f"out{suffix}", rgb, alpha)
    loaded = load_image(tmp_path / f"out{suffix}")
    assert loaded.alpha is not None
    if suffix != ".webp":   # WebP is saved lossy
        np.testing.assert_array_equal(loaded.rgb, rgb)
        np.testing.assert_array_equal(loaded.alpha, alpha)
    assert leftovers(tmp_path) == []


def test_jpeg_drops_alpha_and_format_overrides_suffix(tmp_path: Path) -> None:
    alpha = np.full((48, 64), 100, np.uint8)
    save_image(tmp_path / "out.jpg", picture(), alpha, quality=90)
    loaded = load_image(tmp_path / "out.jpg")
    assert loaded.format == "JPEG" and loaded.alpha is None
    save_image(tmp_path / "out.data", picture(), alpha, format="png")
    assert load_image(tmp_path / "out.data").format == "PNG"


def test_unknown_image_suffix_is_an_output_error(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="unknown image format"):
        save_image(tmp_path / "out.nope", picture())


# --------------------------------------------------------------------------------------------- videos

def test_even_size() -> None:
    assert even_size(65, 49) == (64, 48)
    assert even_size(64, 48) == (64, 48)
    assert even_size(1, 3) == (2, 2)


def test_assemble_keeps_exact_frame_count_and_fps(tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    assemble_video(frames(12), out, NTSC, (64, 48))
    info = probe_video(out)
    assert info.fps == NTSC and (info.width, info.height) == (64, 48) and not info.has_audio
    assert count_frames(out) == 12
    decoded = [frame for _, frame in iter_video_frames(out)]
    assert np.abs(decoded[3].astype(int) - picture(shade=21)).mean() < 4   # colours survive the YUV trip
    assert leftovers(tmp_path) == []


def test_odd_sized_frames_are_resized_to_the_even_size(tmp_path: Path) -> None:
    out = tmp_path / "odd.mp4"
    assemble_video(frames(5, height=49, width=65), out, Fraction(25), even_size(65, 49))
    info = probe_video(out)
    assert (info.width, info.height) == (64, 48)
    assert count_frames(out) == 5


def test_audio_is_copied_and_cut_to_the_video(tmp_path: Path) -> None:
    source = make_video(tmp_path / "source.mp4", fps="30000/1001", seconds=1, audio=True)
    out = tmp_path / "styled.mp4"
    assemble_video(frames(15), out, NTSC, (64, 48), audio_from=source, frame_count_hint=15)
    info = probe_video(out)
    assert info.has_audio and info.fps == NTSC
    assert count_frames(out) == 15
    assert info.duration == pytest.approx(15 / 30000 * 1001, abs=0.05)   # audio (1 s) did not lengthen it
    assert audio_codecs(out) == ["aac"]
    assert leftovers(tmp_path) == []


def test_audio_the_container_refuses_is_reencoded(tmp_path: Path) -> None:
    source = make_video(tmp_path / "source.mkv", fps="25", seconds=1, audio=True, audio_codec="pcm_u8")
    out = tmp_path / "styled.mp4"
    assemble_video(frames(25), out, Fraction(25), (64, 48), audio_from=source)
    assert audio_codecs(out) == ["aac"]
    assert count_frames(out) == 25


def test_audio_source_without_audio_gives_silent_video(tmp_path: Path) -> None:
    source = make_video(tmp_path / "silent.mp4", seconds=0.2)
    out = tmp_path / "styled.mp4"
    assemble_video(frames(4), out, Fraction(25), (64, 48), audio_from=source)
    assert not probe_video(out).has_audio


def test_ffmpeg_failure_is_an_output_error_without_output(tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    with pytest.raises(OutputError) as exc:
        assemble_video(frames(3), out, Fraction(25), (64, 48), codec="no_such_codec")
    assert "\n" not in str(exc.value) and str(out) in str(exc.value)
    assert list(tmp_path.iterdir()) == []


def test_failing_frame_source_leaves_nothing(tmp_path: Path) -> None:
    def broken() -> Iterator[np.ndarray]:
        yield picture()
        raise RuntimeError("stylisation failed")

    out = tmp_path / "out.mp4"
    with pytest.raises(RuntimeError, match="stylisation failed"):
        assemble_video(broken(), out, Fraction(25), (64, 48))
    assert list(tmp_path.iterdir()) == []


def test_no_frames_is_an_output_error(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="no frames"):
        assemble_video(iter([]), tmp_path / "out.mp4", Fraction(25), (64, 48))
    assert list(tmp_path.iterdir()) == []


def test_odd_size_argument_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        assemble_video(frames(1), tmp_path / "out.mp4", Fraction(25), (65, 49))
