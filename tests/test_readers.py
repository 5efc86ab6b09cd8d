"""Readers against real ffmpeg and Pillow, on tiny generated media."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest_media import make_audio, make_vfr_video, make_video, truncate
from stylizer.errors import InputError
from stylizer.io.probe import frame_times
from stylizer.io.readers import (
    count_frames,
    detect_input_kind,
    iter_video_frames,
    list_images,
    load_image,
    natural_key,
    probe_video,
)


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="module")
def clip25(media: Path) -> Path:
    return make_video(media / "clip25.mp4", fps="25", seconds=1)


@pytest.fixture(scope="module")
def ntsc_clip(media: Path) -> Path:
    return make_video(media / "ntsc.mp4", fps="30000/1001", seconds=1, audio=True)


def assert_one_line_naming(exc: pytest.ExceptionInfo, path: Path) -> None:
    message = str(exc.value)
    assert "\n" not in message
    assert str(path) in message


# --------------------------------------------------------------------------------------------- videos

def test_probe_integer_fps(clip25: Path) -> None:
    info = probe_video(clip25)
    assert (info.width, info.height) == (64, 48)
    assert info.fps == Fraction(25)
    assert info.frame_count == 25
    assert info.duration == pytest.approx(1.0, abs=0.05)
    assert info.rotation == 0
    assert not info.has_audio
    assert info.codec == "h264"


def test_probe_ntsc_fps_is_exact_and_audio_detected(ntsc_clip: Path) -> None:
    info = probe_video(ntsc_clip)
    assert info.fps == Fraction(30000, 1001)
    assert info.has_audio
    assert info.frame_count == count_frames(ntsc_clip)


def test_frames_stream_with_consistent_indices_and_count(ntsc_clip: Path) -> None:
    frames = list(iter_video_frames(ntsc_clip))
    assert [i for i, _ in frames] == list(range(len(frames)))
    assert len(frames) == count_frames(ntsc_clip)
    first = frames[0][1]
    assert first.shape == (48, 64, 3) and first.dtype == np.uint8
    assert first.flags.writeable


def test_start_skips_frames_with_the_same_indices(clip25: Path) -> None:
    full = list(iter_video_frames(clip25))
    resumed = list(iter_video_frames(clip25, start=20))
    assert [i for i, _ in resumed] == list(range(20, 25))
    for (i, frame), (j, expected) in zip(resumed, full[20:]):
        assert i == j
        np.testing.assert_array_equal(frame, expected)
    assert list(iter_video_frames(clip25, start=25)) == []


def test_stopping_early_ends_ffmpeg(clip25: Path) -> None:
    frames = iter_video_frames(clip25)
    assert next(frames)[0] == 0
    frames.close()   # must kill and reap ffmpeg, not hang or raise


def test_odd_size_video_frames(media: Path) -> None:
    # 4:2:0 cannot hold odd sizes; 4:4:4 can.
    path = make_video(media / "odd.mp4", width=65, height=49, pix_fmt="yuv444p", seconds=0.2)
    info = probe_video(path)
    assert (info.width, info.height) == (65, 49)
    _, frame = next(iter_video_frames(path))
    assert frame.shape == (49, 65, 3)


def test_rotation_metadata_gives_display_size_and_rotated_frames(media: Path) -> None:
    path = make_video(media / "rotated.mp4", fps="10", seconds=0.3, rotate=90)
    info = probe_video(path)
    assert (info.width, info.height) == (48, 64)
    assert info.rotation == 270   # display_rotation is counter-clockwise; rotation is clockwise
    rotated = [frame for _, frame in iter_video_frames(path)]
    upright = [frame for _, frame in iter_video_frames(path.with_name("unrotated-rotated.mp4"))]
    assert rotated[0].shape == (64, 48, 3)
    np.testing.assert_array_equal(rotated[0], np.rot90(upright[0]))


def test_variable_frame_rate_yields_each_decoded_frame_once_with_its_time(media: Path) -> None:
    path = make_vfr_video(media / "vfr.mkv", fps=30, seconds=1)
    assert count_frames(path) == len(list(iter_video_frames(path))) == 20  # not resampled to 30
    times = frame_times(path, 0)
    assert len(times) == 20
    # The gaps of the dropped frames are kept: 1/30 s then 2/30 s (to the container's millisecond).
    gaps = np.diff([times.seconds(i) for i in range(len(times))])
    np.testing.assert_allclose(gaps[:4], [2 / 30, 1 / 30, 2 / 30, 1 / 30], atol=0.0011)


def test_truncated_video_yields_what_decodes(media: Path) -> None:
    path = make_video(media / "cut.mp4", seconds=2, extra=("-movflags", "+faststart"))
    truncate(path, 0.6)
    indices = [i for i, _ in iter_video_frames(path)]
    assert 0 < len(indices) < 50
    assert indices == list(range(len(indices)))


def test_video_where_no_frame_decodes_raises_input_error(media: Path) -> None:
    path = make_video(media / "headers_only.mkv", seconds=2)
    truncate(path, 0.1)   # the Matroska header survives, the first key frame does not
    probe_video(path)
    with pytest.raises(InputError, match="not a single frame decodes") as exc:
        list(iter_video_frames(path))
    assert_one_line_naming(exc, path)


@pytest.mark.parametrize("name", ["notes.mp4", "empty.mp4"])
def test_non_video_file_raises_input_error(media: Path, name: str) -> None:
    path = media / name
    path.write_text("not a video\n" if name == "notes.mp4" else "")
    with pytest.raises(InputError) as exc:
        probe_video(path)
    assert_one_line_naming(exc, path)
    with pytest.raises(InputError):
        next(iter_video_frames(path))


def test_audio_only_file_has_no_video_stream(media: Path) -> None:
    path = make_audio(media / "tone.m4a")
    with pytest.raises(InputError, match="no video stream in"):
        probe_video(path)


def test_missing_video_raises_input_error(media: Path) -> None:
    with pytest.raises(InputError) as exc:
        probe_video(media / "missing.mp4")
    assert_one_line_naming(exc, media / "missing.mp4")


# --------------------------------------------------------------------------------------------- folders

def test_natural_key_orders_numbers_and_ignores_case() -> None:
    names = ["frame10.png", "Frame2.png", "frame1.png", "b.png", "A.png"]
    assert sorted(names, key=lambda n: natural_key(Path(n))) == \
        ["A.png", "b.png", "frame1.png", "Frame2.png", "frame10.png"]
    assert natural_key(Path("x²1.png")) < natural_key(Path("x²2.png"))   # non-ASCII digits stay text


def test_list_images_sorting_recursion_skips_and_excludes(tmp_path: Path) -> None:
    for rel in ["img10.jpg", "img2.PNG", "img1.jpeg", "notes.txt", ".hidden.png",
                "sub/a3.png", "sub/a20.webp", "sub/readme.md", "Sub2/x.bmp",
                ".cache/z.png", "out/styled.png", "work/tmp.png"]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"x")

    flat, flat_skipped = list_images(tmp_path)
    assert [p.relative_to(tmp_path).as_posix() for p in flat] == ["img1.jpeg", "img2.PNG", "img10.jpg"]
    assert [p.name for p in flat_skipped] == ["notes.txt"]

    deep, deep_skipped = list_images(tmp_path, recursive=True, exclude=[tmp_path / "out", tmp_path / "work"])
    assert [p.relative_to(tmp_path).as_posix() for p in deep] == [
        "img1.jpeg", "img2.PNG", "img10.jpg", "sub/a3.png", "sub/a20.webp", "Sub2/x.bmp"]
    assert [p.relative_to(tmp_path).as_posix() for p in deep_skipped] == ["notes.txt", "sub/readme.md"]


def test_list_images_exclude_accepts_relative_and_missing_paths(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "a.png").write_bytes(b"x")
    (tmp_path / "b.png").write_bytes(b"x")
    monkeypatch.chdir(tmp_path)
    images, _ = list_images(Path("."), recursive=True, exclude=[Path("out"), Path("not-there")])
    assert [p.name for p in images] == ["b.png"]


# --------------------------------------------------------------------------------------------- images

def gradient(mode: str = "RGB", size: tuple[int, int] = (64, 48)) -> Image.Image:
    x = np.linspace(0, 255, size[0], dtype=np.uint8)
    rgb = np.zeros((size[1], size[0], 3), np.uint8)
    rgb[..., 0] = x
    rgb[..., 1] = 255 - x
    rgb[..., 2] = 128
    return Image.fromarray(rgb, "RGB").convert(mode)


def test_load_rgb_jpeg(tmp_path: Path) -> None:
    gradient().save(tmp_path / "a.jpg", quality=95)
    loaded = load_image(tmp_path / "a.jpg")
    assert loaded.rgb.shape == (48, 64, 3) and loaded.rgb.dtype == np.uint8
    assert loaded.alpha is None and loaded.format == "JPEG"


def test_load_grayscale_becomes_rgb(tmp_path: Path) -> None:
    gradient("L").save(tmp_path / "g.png")
    loaded = load_image(tmp_path / "g.png")
    assert loaded.rgb.shape == (48, 64, 3)
    np.testing.assert_array_equal(loaded.rgb[..., 0], loaded.rgb[..., 2])


def test_load_palette_with_and_without_transparency(tmp_path: Path) -> None:
    palette = gradient().convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    palette.save(tmp_path / "p.png")
    assert load_image(tmp_path / "p.png").alpha is None
    palette.save(tmp_path / "pt.png", transparency=0)
    loaded = load_image(tmp_path / "pt.png")
    assert loaded.rgb.shape == (48, 64, 3)
    assert loaded.alpha is not None and loaded.alpha.shape == (48, 64)
    assert set(np.unique(loaded.alpha)) <= {0, 255} and 0 in loaded.alpha


def test_load_rgba_returns_alpha(tmp_path: Path) -> None:
    rgba = np.zeros((48, 64, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[..., 3] = np.arange(64, dtype=np.uint8)[None, :] * 4
    Image.fromarray(rgba, "RGBA").save(tmp_path / "t.png")
    loaded = load_image(tmp_path / "t.png")
    np.testing.assert_array_equal(loaded.alpha, rgba[..., 3])
    np.testing.assert_array_equal(loaded.rgb, rgba[..., :3])


def test_load_cmyk_jpeg(tmp_path: Path) -> None:
    Image.new("CMYK", (64, 48), (0, 255, 255, 0)).save(tmp_path / "c.jpg")   # pure red in CMYK
    loaded = load_image(tmp_path / "c.jpg")
    assert loaded.rgb.shape == (48, 64, 3)
    red, green, blue = loaded.rgb[24, 32].astype(int)
    assert red > 200 and green < 60 and blue < 60


def test_load_16_bit_png_is_scaled_not_clipped(tmp_path: Path) -> None:
    values = np.array([[0, 257, 32896, 65535]], np.uint16)
    Image.fromarray(values).save(tmp_path / "deep.png")
    assert Image.open(tmp_path / "deep.png").mode.startswith("I")
    loaded = load_image(tmp_path / "deep.png")
    np.testing.assert_array_equal(loaded.rgb[0, :, 0], [0, 1, 128, 255])
    np.testing.assert_array_equal(loaded.rgb[..., 0], loaded.rgb[..., 1])


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    rgb = np.zeros((48, 64, 3), np.uint8)
    rgb[:, :32] = (255, 0, 0)   # left half red
    exif = Image.Exif()
    exif[0x0112] = 6            # stored image must be turned 90 degrees clockwise for display
    Image.fromarray(rgb).save(tmp_path / "phone.jpg", exif=exif, quality=95)
    loaded = load_image(tmp_path / "phone.jpg")
    assert loaded.rgb.shape == (64, 48, 3)
    assert loaded.rgb[5, 24, 0] > 200 and loaded.rgb[58, 24, 0] < 60   # left went to the top


@pytest.mark.parametrize("case", ["empty", "text", "truncated_png", "truncated_jpeg", "missing", "folder"])
def test_unreadable_images_raise_one_line_input_error(tmp_path: Path, case: str) -> None:
    path = tmp_path / f"{case}.png"
    if case == "empty":
        path.write_bytes(b"")
    elif case == "text":
        path.write_text("hello\nworld\n")
    elif case == "truncated_png":
        gradient().save(path)
        truncate(path, 0.5)
    elif case == "truncated_jpeg":
        path = tmp_path / "cut.jpg"
        gradient(size=(256, 192)).save(path, quality=95)
        truncate(path, 0.5)
    elif case == "folder":
        path.mkdir()
    with pytest.raises(InputError) as exc:
        load_image(path)
    assert_one_line_naming(exc, path)


# --------------------------------------------------------------------------------------------- kinds

def test_detect_input_kind(tmp_path: Path, clip25: Path) -> None:
    gradient().save(tmp_path / "photo.jpg")
    gradient().save(tmp_path / "no_extension", format="PNG")
    (tmp_path / "clip.bin").write_bytes(clip25.read_bytes())
    (tmp_path / "notes.txt").write_text("hello\n")
    assert detect_input_kind(tmp_path) == "folder"
    assert detect_input_kind(tmp_path / "photo.jpg") == "image"
    assert detect_input_kind(clip25) == "video"
    assert detect_input_kind(tmp_path / "no_extension") == "image"
    assert detect_input_kind(tmp_path / "clip.bin") == "video"
    with pytest.raises(InputError) as exc:
        detect_input_kind(tmp_path / "notes.txt")
    assert_one_line_naming(exc, tmp_path / "notes.txt")
    with pytest.raises(InputError):
        detect_input_kind(tmp_path / "missing.mp4")
