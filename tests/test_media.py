"""Real-world video in, faithful video out (io/probe.py, io/readers.py, io/writers.py), end to end.

Frames are compared as a player decodes them: with the matrix the stream is tagged with, or for an
untagged stream the one players assume from its size (BT.709 from 720p up, BT.601 below), always decoded
here with an explicit matrix, not through the project's own reader.
"""

from __future__ import annotations

import subprocess
from fractions import Fraction
from pathlib import Path

import av
import imageio_ffmpeg
import numpy as np
import pytest

from conftest import FAST
from conftest_media import run_ffmpeg
from stylizer.io.probe import stream_shape

# Saturated blocks, large enough that resizing to the working size and back only touches their edges.
_BLOCKS = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0), (255, 0, 255), (0, 255, 255), (200, 30, 90),
           (30, 90, 200)]


def blocks_frame(width: int, height: int) -> np.ndarray:
    frame = np.zeros((height, width, 3), np.uint8)
    columns = len(_BLOCKS) // 2
    for i, colour in enumerate(_BLOCKS):
        row, col = divmod(i, columns)
        frame[row * height // 2:(row + 1) * height // 2, col * width // columns:(col + 1) * width // columns] = colour
    return frame


def encode(path: Path, frames: list[np.ndarray], matrix: str, tags: tuple[str, ...] = (),
           extra: tuple[str, ...] = ()) -> Path:
    """RGB frames -> H.264 yuv420p with the given conversion matrix; tagged only with ``tags``."""
    h, w = frames[0].shape[:2]
    command = [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-v", "error", "-y", "-f", "rawvideo",
               "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-r", "25", "-i", "pipe:0",
               # setparams drops what the scale filter marks the frames with: only ``tags`` are written.
               "-vf", f"scale=out_color_matrix={matrix}:out_range=tv,format=yuv420p,"
                      "setparams=colorspace=unknown:color_primaries=unknown:color_trc=unknown:range=unknown",
               *extra,
               "-c:v", "libx264", "-preset", "ultrafast", "-qp", "0", *tags, str(path)]
    subprocess.run(command, input=b"".join(f.tobytes() for f in frames), check=True)
    return path


def decode(path: Path, matrix: str) -> np.ndarray:
    """All frames as RGB, converted with ``matrix`` (limited range), at the coded size; each decoded frame
    once (a variable rate is not filled up to a constant one)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        w, h = stream.codec_context.width, stream.codec_context.height
    raw = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-i", str(path), "-vf",
                          f"scale=in_color_matrix={matrix}:in_range=tv", "-fps_mode", "passthrough",
                          "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"], capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(-1, h, w, 3)


def interiors(frame: np.ndarray, margin: int) -> np.ndarray:
    """The pixels of each block away from its edges, where resizing leaves the colour itself."""
    h, w = frame.shape[:2]
    columns = len(_BLOCKS) // 2
    mask = np.zeros((h, w), bool)
    for i in range(len(_BLOCKS)):
        row, col = divmod(i, columns)
        y0, y1 = row * h // 2 + margin, (row + 1) * h // 2 - margin
        x0, x1 = col * w // columns + margin, (col + 1) * w // columns - margin
        mask[y0:y1, x0:x1] = True
    return frame[mask]


def test_untagged_hd_comes_out_in_the_colours_players_show(tmp_path: Path, style_image: Path, stylize) -> None:
    frames = [blocks_frame(1280, 720)] * 3
    clip = encode(tmp_path / "hd.mp4", frames, "bt709")  # as a camera writes HD, and no colour tags
    assert not stream_shape(clip, 0).tagged and stream_shape(clip, 0).matrix == "bt709"
    out = tmp_path / "out.mp4"
    rc, _, err = stylize(clip, style_image, *FAST, "--size", "128", "--style-weight", "0", "--tv-weight", "0",
                         "-o", out)
    assert rc == 0, err
    with av.open(str(out)) as container:
        context = container.streams.video[0].codec_context
        # Tagged BT.709 (matrix, primaries, transfer), limited range.
        assert (context.colorspace, context.color_primaries, context.color_trc, context.color_range) == (1, 1, 1, 1)
    seen_in, seen_out = decode(clip, "bt709"), decode(out, "bt709")
    assert seen_out.shape == seen_in.shape
    error = np.abs(interiors(seen_out[1], 40).astype(int) - interiors(seen_in[1], 40).astype(int)).mean(axis=0)
    assert (error <= 2).all(), error
    # The check has teeth: the same frames read with BT.601 (swscale's default) are far off.
    wrong = decode(clip, "bt601")
    assert np.abs(interiors(wrong[1], 40).astype(int) - interiors(seen_in[1], 40).astype(int)).mean() > 5


def test_tagged_sd_matrix_is_honoured(tmp_path: Path, style_image: Path, stylize) -> None:
    frames = [blocks_frame(640, 360)] * 2
    clip = encode(tmp_path / "sd709.mp4", frames, "bt709", ("-colorspace", "bt709", "-color_range", "tv"))
    assert stream_shape(clip, 0).tagged and stream_shape(clip, 0).matrix == "bt709"
    out = tmp_path / "out.mp4"
    rc, _, err = stylize(clip, style_image, *FAST, "--size", "128", "--style-weight", "0", "--tv-weight", "0",
                         "-o", out)
    assert rc == 0, err
    error = np.abs(interiors(decode(out, "bt709")[1], 24).astype(int)
                   - interiors(decode(clip, "bt709")[1], 24).astype(int)).mean(axis=0)
    assert (error <= 2).all(), error


@pytest.mark.parametrize("coded, sar", [((96, 72), Fraction(4, 3)), ((90, 72), Fraction(16, 15))])
def test_anamorphic_input_keeps_its_display_aspect_ratio(tmp_path: Path, style_image: Path, stylize,
                                                         coded: tuple[int, int], sar: Fraction) -> None:
    clip = tmp_path / "anamorphic.mp4"
    run_ffmpeg("-f", "lavfi", "-i", f"testsrc2=s={coded[0]}x{coded[1]}:r=25:d=0.16",
               "-vf", f"setsar={sar.numerator}/{sar.denominator}", "-c:v", "libx264", "-preset", "ultrafast",
               "-pix_fmt", "yuv420p", str(clip))
    assert stream_shape(clip, 0).sample_aspect == sar
    out = tmp_path / "out.mp4"
    rc, _, err = stylize(clip, style_image, *FAST, "-o", out)
    assert rc == 0, err

    def display_aspect(path: Path) -> float:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            pixel = Fraction(stream.sample_aspect_ratio or 1)
            return float(stream.codec_context.width * pixel / stream.codec_context.height)

    # Within the rounding of the width to whole, even pixels.
    assert display_aspect(out) == pytest.approx(display_aspect(clip), abs=2 / coded[1])


def frame_seconds(path: Path) -> list[float]:
    """The presentation time of every decoded frame, as a player decodes them."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return [float(frame.pts * stream.time_base) for frame in container.decode(stream)]


@pytest.mark.parametrize("container, start", [("mp4", 0), ("mkv", 4)])
def test_variable_frame_rate_frames_keep_their_timestamps(tmp_path: Path, style_image: Path, stylize,
                                                          container: str, start: int) -> None:
    clip = tmp_path / f"vfr.{container}"
    # Every third frame dropped, then a long gap (a screen recording that idles), from a moving pattern.
    run_ffmpeg("-f", "lavfi", "-i", "testsrc2=s=96x72:r=30:d=1.2", "-f", "lavfi", "-i", "sine=440:d=1.2",
               "-vf", "select='not(eq(mod(n,3),1))*not(between(n,14,25))'", "-fps_mode", "vfr",
               "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", str(clip))
    source = frame_seconds(clip)
    out = tmp_path / f"out.{container}"
    # Each frame its own picture (no warm start from the one before): the output then shows which input
    # frame each output frame was made of.
    rc, _, err = stylize(clip, style_image, *FAST, "--size", "96", "--style-weight", "0", "--tv-weight", "0",
                         "--temporal", "none", "--start", str(start), "-o", out)
    assert rc == 0, err
    made = frame_seconds(out)
    # Every decoded frame once, each at its own time (shifted by where --start cuts in).
    assert len(made) == len(source) - start
    expected = np.array(source[start:]) - source[start]
    assert np.abs(np.array(made) - expected).max() < 0.001
    # ... and each is the picture of that input frame, not a neighbour's.
    ins, outs = decode(clip, "bt601")[start:].astype(float), decode(out, "bt601").astype(float)
    for k in range(len(outs)):
        errors = np.abs(ins - outs[k]).mean(axis=(1, 2, 3))
        assert errors.argmin() == k, (k, errors.round(1))
    with av.open(str(out)) as muxed:  # the sound cut where the picture starts (to a packet), as long as it
        packets = [p for p in muxed.demux(muxed.streams.audio[0]) if p.pts is not None]
        first, last = packets[0], packets[-1]
        assert abs(float(first.pts * first.time_base)) < 0.03
        end = float((last.pts + last.duration) * last.time_base)
        assert end == pytest.approx(1.2 - source[start], abs=0.05)


def test_every_audio_track_subtitles_chapters_and_metadata_are_kept(tmp_path: Path, style_image: Path,
                                                                    stylize) -> None:
    subtitles = tmp_path / "subs.srt"
    subtitles.write_text("1\n00:00:00,000 --> 00:00:00,500\nhello\n\n2\n00:00:00,500 --> 00:00:01,000\nworld\n")
    chapters = tmp_path / "chapters.txt"
    chapters.write_text(";FFMETADATA1\ntitle=holiday\n[CHAPTER]\nTIMEBASE=1/1000\nSTART=0\nEND=500\ntitle=one\n"
                        "[CHAPTER]\nTIMEBASE=1/1000\nSTART=500\nEND=1000\ntitle=two\n")
    clip = tmp_path / "tracks.mp4"
    run_ffmpeg("-f", "lavfi", "-i", "testsrc2=s=64x48:r=25:d=1", "-f", "lavfi", "-i", "sine=440:d=1",
               "-f", "lavfi", "-i", "sine=880:d=1", "-i", str(subtitles), "-i", str(chapters),
               "-map", "0:v", "-map", "1:a", "-map", "2:a", "-map", "3:s", "-map_metadata", "4", "-map_chapters", "4",
               "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-c:s", "mov_text",
               "-metadata:s:a:0", "language=eng", "-metadata:s:a:1", "language=fra",
               "-metadata", "creation_time=2024-05-01T10:00:00Z", str(clip))
    out = tmp_path / "out.mp4"
    rc, _, err = stylize(clip, style_image, *FAST, "--start", "5", "-o", out)
    assert rc == 0, err
    with av.open(str(out)) as container:
        audio = container.streams.audio
        assert [s.metadata.get("language") for s in audio] == ["eng", "fra"]
        assert len(container.streams.subtitles) == 1
        assert container.metadata.get("creation_time", "").startswith("2024-05-01T10:00:00")
        assert container.metadata.get("title") == "holiday"
        assert [c["metadata"].get("title") for c in container.chapters()] == ["one", "two"]
        video = container.streams.video[0]
        video_seconds = float(video.frames / video.average_rate)
        assert video.frames == 20  # --start 5 of 25
        for track in audio:  # trimmed with the picture: as long as the 20 frames kept, not the whole second
            assert float(track.duration * track.time_base) == pytest.approx(video_seconds, abs=0.05)


def test_a_failed_mux_is_an_error_that_keeps_the_frames(tmp_path: Path, style_image: Path, stylize,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from conftest import assert_user_error
    from conftest_media import make_video
    from stylizer.io import writers

    clip = make_video(tmp_path / "clip.mp4", seconds=0.2, audio=True)
    out = tmp_path / "out.mp4"
    with monkeypatch.context() as m:
        m.setattr(writers, "_add_streams", lambda *args, **kwargs: "Invalid data found when processing input")
        rc, _, err = stylize(clip, style_image, *FAST, "-o", out)
    line = assert_user_error(rc, err, 1, "Invalid data", "run the same command again")
    assert str(tmp_path / ".out.mp4.work") in line
    assert not out.exists()
    assert len(list((tmp_path / ".out.mp4.work" / "frames").glob("[0-9]*.png"))) == 5
    rc, stdout, err = stylize(clip, style_image, *FAST, "-o", out)  # the retry: encoded, nothing optimised
    assert rc == 0 and "done 0, skipped 5" in stdout, err
    with av.open(str(out)) as container:
        assert len(container.streams.audio) == 1


def _reference_tone_map(pq_rgb: np.ndarray) -> np.ndarray:
    """An SDR rendering of BT.2020 PQ RGB code values (0-1), written out here, not taken from ffmpeg: the
    PQ EOTF (SMPTE ST 2084) to nits, SDR white at 100 nits, BT.2020 -> BT.709 primaries, clipped at white,
    the BT.709 OETF. Returns RGB in 0-1."""
    m1, m2, c1, c2, c3 = 2610 / 16384, 2523 / 32, 3424 / 4096, 2413 / 128, 2392 / 128
    e = np.power(np.clip(pq_rgb, 0, 1), 1 / m2)
    nits = 10000 * np.power(np.maximum(e - c1, 0) / (c2 - c3 * e), 1 / m1)
    to709 = np.array([[1.6605, -0.5876, -0.0728], [-0.1246, 1.1329, -0.0083], [-0.0182, -0.1006, 1.1187]])
    linear = np.clip((nits / 100) @ to709.T, 0, 1)
    return np.where(linear < 0.018, 4.5 * linear, 1.099 * np.power(linear, 0.45) - 0.099)


def _luma(rgb: np.ndarray) -> float:
    return float((rgb[..., :3] @ np.array([0.2126, 0.7152, 0.0722])).mean())


@pytest.mark.parametrize("level", [0.6, 1.0])  # mostly diffuse tones (up to ~400 nits); bright highlights
def test_pq_hdr_input_comes_out_as_tagged_sdr_that_is_not_washed_out(tmp_path: Path, style_image: Path,
                                                                      stylize, level: float) -> None:
    clip = tmp_path / "pq.mp4"
    run_ffmpeg("-f", "lavfi", "-i", "testsrc2=s=128x96:r=25:d=0.2", "-vf",
               f"lutrgb=r=val*{level}:g=val*{level}:b=val*{level},format=yuv420p10le,"
               "setparams=color_primaries=bt2020:color_trc=smpte2084:colorspace=bt2020nc:range=tv",
               "-c:v", "libx265", "-x265-params", "log-level=error", str(clip))
    assert stream_shape(clip, 0).transfer == "pq"
    out = tmp_path / "out.mp4"
    rc, stdout, err = stylize(clip, style_image, *FAST, "--style-weight", "0", "--tv-weight", "0", "-o", out)
    assert rc == 0, err
    assert "HDR (PQ): tone-mapped to SDR BT.709" in err
    with av.open(str(out)) as container:
        context = container.streams.video[0].codec_context
        assert (context.color_trc, context.colorspace) == (1, 1)  # BT.709 SDR
    shown = decode(out, "bt709")[2].astype(np.float64) / 255
    raw = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-i", str(clip), "-vf",
                          "scale=in_color_matrix=bt2020:in_range=tv", "-f", "rawvideo", "-pix_fmt", "rgb48le",
                          "pipe:1"], capture_output=True, check=True).stdout
    pq = np.frombuffer(raw, np.uint16).reshape(-1, 96, 128, 3)[2] / 65535
    reference = _luma(_reference_tone_map(pq))
    assert _luma(shown) == pytest.approx(reference, rel=0.15)
    if level < 1:  # the PQ code values shown as if they were SDR (the earlier decode) are far off
        assert abs(_luma(pq) - reference) > 0.25 * reference


def test_photos_keep_their_colour_profile_and_exif_and_heic_avif_are_read(tmp_path: Path, style_image: Path,
                                                                          stylize) -> None:
    import pillow_heif
    from PIL import Image, ImageCms

    from conftest import pattern

    pillow_heif.register_heif_opener()  # for this test's own HEIC file

    photos = tmp_path / "photos"
    photos.mkdir()
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    picture = Image.fromarray(pattern(64, 48))
    exif = Image.Exif()
    exif[0x010F] = "Example Camera"  # Make
    exif[0x0132] = "2024:05:01 10:00:00"  # DateTime
    exif[0x0112] = 6  # Orientation: applied on reading, so reset in the output
    picture.save(photos / "profiled.jpg", icc_profile=profile, exif=exif.tobytes())
    picture.save(photos / "phone.heic")
    picture.save(photos / "web.avif")
    out = tmp_path / "out"
    rc, stdout, err = stylize(photos, style_image, *FAST, "-o", out)
    assert rc == 0 and "done 3" in stdout, err
    with Image.open(out / "profiled.jpg") as im:
        assert im.info.get("icc_profile") == profile
        kept = im.getexif()
        assert (kept.get(0x010F), kept.get(0x0132), kept.get(0x0112, 1)) == ("Example Camera", "2024:05:01 10:00:00", 1)
        assert im.size == (48, 64)  # turned upright once
    for name, fmt in (("phone.heic", "HEIF"), ("web.avif", "AVIF")):
        with Image.open(out / name) as im:
            assert im.format == fmt and im.size == (64, 48)


def test_sixteen_bit_photos_are_written_at_sixteen_bits(tmp_path: Path, style_image: Path, stylize) -> None:
    import cv2
    from PIL import Image, ImageCms

    photos = tmp_path / "photos"
    photos.mkdir()
    h, w = 48, 80
    y, x = np.mgrid[0:h, 0:w] / np.array([h - 1, w - 1])[:, None, None]
    # A smooth sky: 8 bits would leave each channel at most 256 levels, banded.
    sky = np.stack([0.2 + 0.6 * x, 0.3 + 0.4 * y, 0.9 - 0.5 * x * y], axis=-1)
    rgb16 = np.rint(sky * 65535).astype(np.uint16)
    alpha16 = np.rint((0.5 + 0.5 * x) * 65535).astype(np.uint16)
    cv2.imwrite(str(photos / "sky.png"), np.dstack([rgb16[..., ::-1], alpha16]))
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    exif = Image.Exif()
    exif[0x010F] = "Example Camera"
    exif[0x0112] = 6  # turn 90 degrees clockwise for display
    import tifffile

    tifffile.imwrite(photos / "graded.tif", rgb16, photometric="rgb", iccprofile=profile,
                     extratags=[(0x0112, "H", 1, 6)])
    out = tmp_path / "out"
    rc, stdout, err = stylize(photos, style_image, "--size", "64", "--iterations", "20", "--style-weight", "0",
                              "--tv-weight", "0", "-o", out)
    assert rc == 0 and "done 2" in stdout, err

    png = cv2.imread(str(out / "sky.png"), cv2.IMREAD_UNCHANGED)
    assert png.dtype == np.uint16 and png.shape == (h, w, 4)
    assert np.array_equal(png[..., 3], alpha16)  # the alpha at its own 16 bits
    graded = cv2.imread(str(out / "graded.tif"), cv2.IMREAD_UNCHANGED)
    assert graded.dtype == np.uint16 and graded.shape == (w, h, 3)  # turned upright once
    upright = np.rot90(rgb16, -1)
    for written, expected in ((png[..., 2::-1], rgb16), (graded[..., ::-1], upright)):
        # The content alone (style weight 0): the photo back, finished at 16 bits (8 bits scaled up would be
        # multiples of 257 only).
        assert np.abs(written.astype(float) - expected).mean() < 2 * 257
        assert np.mean(written % 257 != 0) > 0.9
    with Image.open(out / "sky.png") as im:
        assert im.info.get("comment", "").startswith("stylizer ")  # the finished tag, so a re-run skips it
    with Image.open(out / "graded.tif") as im:
        assert im.info.get("icc_profile") == profile
    rc, stdout, err = stylize(photos, style_image, "--size", "64", "--iterations", "20", "--style-weight", "0",
                              "--tv-weight", "0", "-o", out)
    assert rc == 0 and "skipped 2" in stdout, (stdout, err)


def test_start_times_and_the_pictures_lead_over_the_sound_are_kept(tmp_path: Path, style_image: Path,
                                                                   stylize) -> None:
    # As a camera's files: the sound starts 0.32 s before the picture, the whole file 10 s in.
    source = tmp_path / "camera.mkv"
    run_ffmpeg("-itsoffset", "0.32", "-f", "lavfi", "-i", "testsrc2=s=64x48:r=25:d=1.2",
               "-f", "lavfi", "-i", "sine=d=1.6", "-output_ts_offset", "10", "-c:v", "libx264", "-preset",
               "ultrafast", "-c:a", "aac", str(source))

    def starts(path: Path) -> tuple[float, float]:
        with av.open(str(path)) as container:
            video, audio = container.streams.video[0], container.streams.audio[0]
            return float(video.start_time * video.time_base), float(audio.start_time * audio.time_base)

    fast = ("--size", "48", "--iterations", "2", "--warm-iterations", "1")
    video, audio = starts(source)
    assert abs(video - audio - 0.32) < 0.01 and audio >= 10
    for name, at in (("same.mkv", audio), ("other.mp4", 0.0)):  # the start time only in a file of its kind
        rc, _, err = stylize(source, style_image, *fast, "-o", tmp_path / name)
        assert rc == 0, err
        out_video, out_audio = starts(tmp_path / name)
        assert abs(out_audio - at) < 0.002 and abs(out_video - out_audio - (video - audio)) < 0.002
    # Cut with --start: picture and sound begin together at 0, the sound from the first frame's time.
    rc, _, err = stylize(source, style_image, *fast, "--start", "10", "-o", tmp_path / "cut.mkv")
    assert rc == 0, err
    out_video, out_audio = starts(tmp_path / "cut.mkv")
    assert abs(out_video) < 0.002 and abs(out_audio) < 0.03
