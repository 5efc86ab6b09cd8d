"""Video and folder pipeline, end to end through the command line, on real files made with ffmpeg and PIL.

Issue "video and folder pipeline": frame count, fps, duration and audio kept; odd sizes, rotation, --every,
--start, --max-frames; folders keep names, layout, formats and alpha; resume after SIGKILL, SIGINT and
SIGTERM; changed settings refused unless --force; one run per output (lock).
"""

from __future__ import annotations

import re
import shutil
import signal
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import (
    FAST,
    assert_user_error,
    finish,
    kill,
    make_image,
    mtimes,
    start_cli,
    video_facts,
    wait_for,
)
from conftest_media import make_video, run_ffmpeg
from stylizer.io.readers import iter_video_frames, probe_video


def skipped_count(stdout: str) -> int:
    match = re.search(r"skipped (\d+)", stdout)
    assert match, stdout
    return int(match[1])


def work_frames(out: Path) -> Path:
    return out.parent / f".{out.name}.work" / "frames"


def finished_frames(out: Path) -> list[Path]:
    return sorted(work_frames(out).glob("[0-9]*.png"))


def gray_ramp_video(path: Path, frames: int, fps: int = 25, step: int = 20) -> Path:
    """Frame n is uniformly gray at level 20 + step*n: which input frame an output frame came from is legible."""
    run_ffmpeg("-f", "lavfi", "-i", f"color=c=black:s=64x48:r={fps}:d={frames / fps}",
               "-vf", f"geq=lum='20+{step}*N':cb=128:cr=128", "-frames:v", str(frames),
               "-c:v", "libx264", "-preset", "ultrafast", "-qp", "0", "-pix_fmt", "yuv420p", str(path))
    return path


# ------------------------------------------------------------------------------------------------- video

@pytest.mark.parametrize("fps", ["25", "30000/1001"])
def test_video_keeps_frame_count_fps_duration_and_audio(tmp_path: Path, style_image: Path, stylize, fps: str) -> None:
    clip = make_video(tmp_path / "clip.mp4", 64, 48, fps=fps, seconds=0.32, audio=True)
    before = video_facts(clip)
    rc, out, err = stylize(clip, style_image, *FAST)
    assert rc == 0, err
    result = tmp_path / "clip.stylized.mp4"  # default: beside the input
    width, height, rate, count, audio = video_facts(result)
    assert (width, height) == before[:2]
    assert rate == before[2] == Fraction(fps)
    assert count == before[3] >= 8
    assert audio and before[4]
    # Same duration, to within one frame (the audio stream may run a few ms past the last frame).
    assert abs(probe_video(result).duration - probe_video(clip).duration) <= 1 / float(rate) + 1e-3
    assert f"done {count}" in out
    assert not work_frames(result).parent.exists(), "the work directory is removed after a complete run"


def test_odd_dimensions_give_even_output_and_a_note(tmp_path: Path, style_image: Path, stylize) -> None:
    clip = make_video(tmp_path / "odd.mp4", 65, 49, seconds=0.2, pix_fmt="yuv444p")
    rc, _, err = stylize(clip, style_image, *FAST)
    assert rc == 0, err
    width, height, _, count, _ = video_facts(tmp_path / "odd.stylized.mp4")
    assert (width, height) == (64, 48)
    assert count == 5
    assert re.search(r"note: .*64x48.*65x49", err), err


@pytest.mark.parametrize("rotate", [90])
def test_rotation_metadata_output_has_the_input_display_size(tmp_path: Path, style_image: Path, stylize,
                                                             rotate: int) -> None:
    clip = make_video(tmp_path / "phone.mp4", 64, 48, seconds=0.2, rotate=rotate)
    shown = probe_video(clip)
    assert (shown.width, shown.height) == (48, 64)
    rc, _, err = stylize(clip, style_image, *FAST)
    assert rc == 0, err
    result = probe_video(tmp_path / "phone.stylized.mp4")
    assert (result.width, result.height) == (48, 64)
    assert result.rotation == 0  # upright pixels, no tag left to turn them a second time


def test_every_2_halves_fps_and_keeps_duration(tmp_path: Path, style_image: Path, stylize) -> None:
    clip = make_video(tmp_path / "clip.mp4", seconds=0.32, audio=True)  # 8 frames at 25 fps
    rc, _, err = stylize(clip, style_image, *FAST, "--every", "2")
    assert rc == 0, err
    result = tmp_path / "clip.stylized.mp4"
    _, _, rate, count, audio = video_facts(result)
    assert rate == Fraction(25, 2)
    assert count == 4
    assert audio
    assert count / rate == Fraction(8, 25)


def _unstyled_levels(tmp_path: Path, style_image: Path, stylize, *frame_args: str) -> tuple[list, list, Path]:
    """(output gray levels, input gray levels, output) of a run with no style and no temporal coupling:
    every output frame stays its content frame, whose gray level says which input frame it was."""
    clip = gray_ramp_video(tmp_path / "ramp.mp4", frames=8)
    out = tmp_path / "part.mp4"
    rc, _, err = stylize(clip, style_image, *FAST, "--style-weight", "0", "--tv-weight", "0",
                         "--temporal", "none", *frame_args, "-o", out)
    assert rc == 0, err
    levels = [float(frame.mean()) for _, frame in iter_video_frames(out)]
    source = [float(frame.mean()) for _, frame in iter_video_frames(clip)]
    return levels, source, out


def test_start_and_max_frames_pick_the_right_frames(tmp_path: Path, style_image: Path, stylize) -> None:
    levels, source, out = _unstyled_levels(tmp_path, style_image, stylize, "--start", "2", "--max-frames", "3")
    assert len(levels) == 3
    assert levels == pytest.approx(source[2:5], abs=4)
    assert video_facts(out)[2] == 25


def test_every_and_start_together(tmp_path: Path, style_image: Path, stylize) -> None:
    levels, source, out = _unstyled_levels(tmp_path, style_image, stylize, "--start", "1", "--every", "3")
    assert levels == pytest.approx([source[1], source[4], source[7]], abs=4)
    assert video_facts(out)[2] == Fraction(25, 3)


# ------------------------------------------------------------------------------------------------- folders

def exif_rotated_jpeg(path: Path) -> Path:
    """A 64x40 JPEG stored sideways with EXIF orientation 6: shown 40 wide and 64 high."""
    make_image(path, 64, 40)
    with Image.open(path) as im:
        exif = im.getexif()
        exif[0x0112] = 6
        im.save(path, exif=exif.tobytes())
    return path


def test_folder_keeps_names_layout_formats_alpha_and_exif(tmp_path: Path, style_image: Path, stylize) -> None:
    photos = tmp_path / "photos"
    make_image(photos / "beach.jpg", 64, 48)
    make_image(photos / "logo.png", 48, 48, mode="RGBA", seed=1)
    make_image(photos / "trips" / "2019" / "hill.webp", 56, 40, seed=2)
    exif_rotated_jpeg(photos / "trips" / "sideways.jpg")
    (photos / "notes.txt").write_text("not an image")
    (photos / "trips" / "clip.mov").write_bytes(b"\0" * 10)

    rc, out, err = stylize(photos, style_image, *FAST, "--recursive")
    assert rc == 0, err
    result = tmp_path / "photos_stylized"
    written = sorted(p.relative_to(result).as_posix() for p in result.rglob("*")
                     if p.is_file() and not any(part.startswith(".") for part in p.relative_to(result).parts))
    assert written == ["beach.jpg", "logo.png", "report.html", "trips/2019/hill.webp", "trips/sideways.jpg"]
    for name, fmt in [("beach.jpg", "JPEG"), ("logo.png", "PNG"), ("trips/2019/hill.webp", "WEBP")]:
        with Image.open(result / name) as im, Image.open(photos / name) as original:
            assert im.format == fmt
            assert im.size == original.size
    with Image.open(result / "logo.png") as im, Image.open(photos / "logo.png") as original:
        assert im.mode == "RGBA"
        assert np.array_equal(np.asarray(im)[..., 3], np.asarray(original)[..., 3])
    with Image.open(result / "trips" / "sideways.jpg") as im:
        assert im.size == (40, 64)  # EXIF rotation applied
        assert im.getexif().get(0x0112, 1) == 1  # and not applied a second time by viewers
    # Non-images are skipped and listed.
    assert "notes.txt" in err and "clip.mov" in err
    assert "done 4" in out


def test_folder_without_recursive_takes_only_the_top_level(tmp_path: Path, style_image: Path, stylize) -> None:
    photos = tmp_path / "photos"
    make_image(photos / "a.png")
    make_image(photos / "sub" / "b.png")
    rc, _, err = stylize(photos, style_image, *FAST)
    assert rc == 0, err
    assert (tmp_path / "photos_stylized" / "a.png").is_file()
    assert not (tmp_path / "photos_stylized" / "sub").exists()


def test_broken_images_are_listed_and_every_good_one_written(tmp_path: Path, style_image: Path, stylize) -> None:
    photos = tmp_path / "photos"
    make_image(photos / "good1.jpg")
    make_image(photos / "good2.png", seed=3)
    (photos / "empty.jpg").write_bytes(b"")
    truncated = make_image(photos / "cut.png", 200, 150, seed=4)
    truncated.write_bytes(truncated.read_bytes()[: truncated.stat().st_size // 2])
    (photos / "letter.jpg").write_text("Dear reader, this is not a JPEG.\n")

    rc, out, err = stylize(photos, style_image, *FAST)
    assert rc == 1, err
    result = tmp_path / "photos_stylized"
    assert sorted(p.name for p in result.iterdir() if not p.name.startswith(".")) == [
        "failures.txt", "good1.jpg", "good2.png", "report.html"]
    failures = (result / "failures.txt").read_text().splitlines()
    assert len(failures) == 3
    reasons = {Path(line.split(":", 1)[0]).name: line for line in failures}
    assert "empty" in reasons["empty.jpg"]
    assert "truncated" in reasons["cut.png"] or "corrupt" in reasons["cut.png"]
    assert "not an image" in reasons["letter.jpg"]
    assert "failed 3" in out and "done 2" in out
    assert "Traceback" not in err


# ------------------------------------------------------------------------------------------------- resume

@pytest.mark.slow
def test_video_resumes_after_sigkill_without_recomputing(tmp_path: Path, style_image: Path, stylize) -> None:
    clip = make_video(tmp_path / "clip.mp4", seconds=0.4, audio=True)  # 10 frames
    out = tmp_path / "clip.stylized.mp4"
    proc = start_cli(clip, style_image, *FAST, "--keep-frames")
    assert wait_for(lambda: len(finished_frames(out)) >= 2, proc)
    rc, _, _ = kill(proc)
    assert rc == -signal.SIGKILL, "the run ended before it could be killed: make the clip longer"
    before = mtimes(work_frames(out))
    contents = {name: (work_frames(out) / name).read_bytes() for name in before}
    assert 2 <= len(before) < 10
    assert not out.exists()

    rc, stdout, err = stylize(clip, style_image, *FAST, "--keep-frames")
    assert rc == 0, err
    assert skipped_count(stdout) == len(before)
    assert f"done {10 - len(before)}," in stdout
    after = mtimes(work_frames(out))
    assert len(after) == 10
    assert {name: after[name] for name in before} == before  # not recomputed, not rewritten
    assert all((work_frames(out) / name).read_bytes() == data for name, data in contents.items())
    _, _, _, count, audio = video_facts(out)
    assert count == 10 and audio


def _folder_run_under_way(tmp_path: Path, style_image: Path, count: int, written: int):
    """(photos, their output folder, a CLI run on them that has written at least ``written`` images)."""
    photos = tmp_path / "photos"
    for i in range(count):
        make_image(photos / f"img{i}.png", seed=i)
    result = tmp_path / "photos_stylized"
    proc = start_cli(photos, style_image, *FAST)
    assert wait_for(lambda: len(list(result.glob("img*.png"))) >= written, proc)
    return photos, result, proc


@pytest.mark.slow
def test_folder_resumes_after_sigkill_without_recomputing(tmp_path: Path, style_image: Path, stylize) -> None:
    photos, result, proc = _folder_run_under_way(tmp_path, style_image, 8, 2)
    rc, _, _ = kill(proc)
    assert rc == -signal.SIGKILL
    before = mtimes(result, "img*.png")
    assert 2 <= len(before) < 8

    rc, stdout, err = stylize(photos, style_image, *FAST)
    assert rc == 0, err
    assert skipped_count(stdout) == len(before)
    after = mtimes(result, "img*.png")
    assert len(after) == 8
    assert {name: after[name] for name in before} == before
    assert not [p.name for p in result.iterdir() if ".partial" in p.name]


def test_changed_settings_are_refused_unless_force_folder(tmp_path: Path, style_image: Path, stylize) -> None:
    photos = tmp_path / "photos"
    make_image(photos / "a.png")
    rc, _, err = stylize(photos, style_image, *FAST)
    assert rc == 0, err
    first = mtimes(tmp_path / "photos_stylized")

    rc, out, err = stylize(photos, style_image, *FAST)  # same settings: nothing to do
    assert rc == 0 and skipped_count(out) == 1

    rc, _, err = stylize(photos, style_image, *FAST, "--tv-weight", "5")
    assert_user_error(rc, err, None, "other settings", "--force")
    assert mtimes(tmp_path / "photos_stylized") == first

    rc, out, err = stylize(photos, style_image, *FAST, "--tv-weight", "5", "--force")
    assert rc == 0, err
    assert "done 1" in out
    assert mtimes(tmp_path / "photos_stylized") != first


def test_changed_settings_are_refused_unless_force_video_work_dir(tmp_path: Path, style_image: Path,
                                                                  stylize) -> None:
    clip = make_video(tmp_path / "clip.mp4", seconds=0.16)  # 4 frames
    out = tmp_path / "out.mp4"
    # A run that stopped half-way leaves its work directory: here, one kept on purpose.
    rc, _, err = stylize(clip, style_image, *FAST, "--keep-frames", "-o", out)
    assert rc == 0, err
    (work_frames(out) / "000003.png").unlink()
    out.unlink()

    rc, _, err = stylize(clip, style_image, *FAST, "--iterations", "4", "-o", out)
    assert_user_error(rc, err, None, "other settings", "--force")
    assert len(finished_frames(out)) == 3, "refusing must not touch the finished frames"

    rc, out_text, err = stylize(clip, style_image, *FAST, "--iterations", "4", "--force", "-o", out)
    assert rc == 0, err
    assert "done 4" in out_text
    assert video_facts(out)[3] == 4


def test_finished_video_rerun_is_recognised_and_other_settings_refused(tmp_path: Path, style_image: Path,
                                                                       stylize) -> None:
    clip = make_video(tmp_path / "clip.mp4", seconds=0.16)
    out = tmp_path / "clip.stylized.mp4"
    rc, _, err = stylize(clip, style_image, *FAST)
    assert rc == 0, err
    stamp = out.stat().st_mtime_ns

    rc, stdout, err = stylize(clip, style_image, *FAST)  # the same command again: already finished
    assert rc == 0, err
    assert skipped_count(stdout) == 4 and "done 0" in stdout
    assert out.stat().st_mtime_ns == stamp

    rc, _, err = stylize(clip, style_image, *FAST, "--every", "2")
    assert_user_error(rc, err, None, "--force")
    assert out.stat().st_mtime_ns == stamp

    rc, _, err = stylize(clip, style_image, *FAST, "--every", "2", "--force")
    assert rc == 0, err
    assert video_facts(out)[3] == 2


# ------------------------------------------------------------------------------------------------- signals

@pytest.mark.slow
@pytest.mark.parametrize("sig, code, kind", [(signal.SIGINT, 130, "video"), (signal.SIGTERM, 143, "folder")])
def test_sigint_and_sigterm_stop_cleanly_and_resume(tmp_path: Path, style_image: Path, stylize,
                                                    sig: int, code: int, kind: str) -> None:
    if kind == "video":
        source = make_video(tmp_path / "clip.mp4", seconds=0.4)
        out = tmp_path / "clip.stylized.mp4"
        done = lambda: len(finished_frames(out)) >= 1  # noqa: E731
        total = 10
    else:
        source = tmp_path / "photos"
        for i in range(6):
            make_image(source / f"p{i}.jpg", seed=i)
        out = tmp_path / "photos_stylized"
        done = lambda: len(list(out.glob("p*.jpg"))) >= 1  # noqa: E731
        total = 6
    proc = start_cli(source, style_image, *FAST)
    assert wait_for(done, proc)
    rc, _, err = kill(proc, sig)
    # Cleaned up, then ended by the signal itself (a shell sees 128 + sig = code, and stops its loop).
    assert rc == -sig and 128 + sig == code, err
    assert "Traceback" not in err
    assert "run the same command to resume" in err

    rc, stdout, err = stylize(source, style_image, *FAST)
    assert rc == 0, err
    assert skipped_count(stdout) >= 1
    if kind == "video":
        assert video_facts(out)[3] == total
    else:
        assert len(list(out.glob("p*.jpg"))) == total


# ------------------------------------------------------------------------------------------------- lock

@pytest.mark.slow
def test_second_run_on_the_same_output_is_refused(tmp_path: Path, style_image: Path, stylize) -> None:
    # Long enough never to end during the test, even when the second run (in this process) has to load
    # TensorFlow first: at FAST settings a frame takes a fraction of a second.
    clip = make_video(tmp_path / "clip.mp4", seconds=4)
    out = tmp_path / "clip.stylized.mp4"
    first = start_cli(clip, style_image, *FAST)
    assert wait_for(lambda: len(finished_frames(out)) >= 1, first)

    rc, _, err = stylize(clip, style_image, *FAST)
    assert_user_error(rc, err, None, "another stylize-video run")
    assert first.poll() is None, "the first run goes on"
    frames = len(finished_frames(out))
    assert wait_for(lambda: len(finished_frames(out)) > frames, first), "and keeps making frames"
    rc, _, err = kill(first, signal.SIGTERM)
    assert rc == -signal.SIGTERM, err


@pytest.mark.slow
def test_second_folder_run_on_the_same_output_is_refused(tmp_path: Path, style_image: Path, stylize) -> None:
    # At FAST settings an image takes a fraction of a second: enough of them that the first run is still
    # going when the second one has started, been refused and returned.
    photos, result, first = _folder_run_under_way(tmp_path, style_image, 60, 1)
    rc, _, err = stylize(photos, style_image, *FAST)
    assert_user_error(rc, err, None, "another stylize-video run")
    done = len(list(result.glob("img*.png")))
    assert first.poll() is None, f"the first run ended ({first.returncode}) after {done} images: {finish(first)[2]}"
    assert wait_for(lambda: len(list(result.glob("img*.png"))) > done, first), "and keeps making images"
    rc, _, err = kill(first, signal.SIGTERM)
    assert rc == -signal.SIGTERM, err


def test_single_image_run_is_locked_too(tmp_path: Path, style_image: Path, stylize) -> None:
    import fcntl

    photo = make_image(tmp_path / "photo.png")
    lock_dir = tmp_path / ".photo.stylized.png.work"
    lock_dir.mkdir()
    with open(lock_dir / "lock", "w") as held:  # as another run on the same output holds it
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        rc, _, err = stylize(photo, style_image, *FAST)
        assert_user_error(rc, err, 1, "another stylize-video run")
    assert not (tmp_path / "photo.stylized.png").exists()
    rc, _, err = stylize(photo, style_image, *FAST)
    assert rc == 0, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photo.png", "photo.stylized.png"]


# ------------------------------------------------------------------------------------- scale (issue 10)

def _count_decodes(monkeypatch) -> dict:
    """Frames ffmpeg hands over, by kind of pass: thumbnails (the scan) and full-size frames."""
    from stylizer.io import readers

    counts = {"thumbnail": 0, "full": 0}
    real = readers.iter_video_frames

    def counting(path, start=0, size=None):
        for item in real(path, start, size):
            counts["thumbnail" if size else "full"] += 1
            yield item

    monkeypatch.setattr(readers, "iter_video_frames", counting)
    return counts


def test_each_frame_is_decoded_once_however_many_shots(tmp_path: Path, style_image: Path, stylize,
                                                      monkeypatch) -> None:
    from conftest_media import make_shots

    clip = make_shots(tmp_path / "shots.mp4", [4, 3, 4, 3])  # 14 frames, 4 shots
    counts = _count_decodes(monkeypatch)
    out = tmp_path / "out.mp4"
    rc, _, err = stylize(clip, style_image, *FAST, "-o", out, "--keep-frames")
    assert rc == 0, err
    assert "scene cuts at frames 4, 7, 11" in err
    # One scan at thumbnail size and one decode for the optimisation: not one decode per shot.
    assert counts == {"thumbnail": 14, "full": 14}

    # A resume decodes from the frame before the first unfinished one, and does not scan again.
    frames = work_frames(out)
    for j in (11, 12, 13):
        (frames / f"{j:06d}.png").unlink()
    out.unlink()
    counts.update(thumbnail=0, full=0)
    rc, stdout, err = stylize(clip, style_image, *FAST, "-o", out)
    assert rc == 0, err
    assert skipped_count(stdout) == 11
    assert counts == {"thumbnail": 0, "full": 3}  # frames 11-13; frame 11 starts a shot, so starts cold
    assert video_facts(out)[3] == 14


def test_work_frames_are_kept_at_working_size(tmp_path: Path, style_image: Path, stylize) -> None:
    clip = make_video(tmp_path / "wide.mp4", 320, 240, seconds=0.12)
    out = tmp_path / "out.mp4"
    rc, _, err = stylize(clip, style_image, *FAST, "-o", out, "--keep-frames")
    assert rc == 0, err
    sizes = {Image.open(p).size for p in work_frames(out).glob("*.png")}
    assert sizes == {(64, 48)}  # --size 64: the optimiser's own output; enlarged only when assembled
    assert video_facts(out)[:2] == (320, 240)


def test_a_run_that_will_not_fit_on_the_disk_stops_before_it_starts(tmp_path: Path, style_image: Path,
                                                                     stylize, monkeypatch) -> None:
    import shutil as shutil_module

    from stylizer import workdir

    clip = make_video(tmp_path / "clip.mp4", seconds=0.4)
    usage = shutil_module.disk_usage(tmp_path)
    monkeypatch.setattr(workdir.shutil, "disk_usage", lambda _: usage._replace(free=10_000))
    rc, _, err = stylize(clip, style_image, *FAST, "-o", tmp_path / "out.mp4")
    assert_user_error(rc, err, 1, "10 frames still to make", "MiB", "--size")
    assert not list(work_frames(tmp_path / "out.mp4").glob("*.png"))


def test_chunks_of_one_shot_are_cross_faded(tmp_path: Path, style_image: Path, stylize) -> None:
    from stylizer.plan import OVERLAP
    from stylizer.workdir import read_json

    clip = make_video(tmp_path / "clip.mp4", seconds=0.96)  # 24 frames, one shot
    out = tmp_path / "out.mp4"
    # Warm frames optimise (rather than keep a warped start already at the goal), so that the two chains
    # still differ where they meet at this tiny budget: the fade then has work to do.
    rc, _, err = stylize(clip, style_image, *FAST, "-o", out, "--keep-frames", "--chunk", "12",
                         "--warm-min-iterations", "1")
    assert rc == 0, err
    assert video_facts(out)[3] == 24
    segments = read_json(out.parent / ".out.mp4.work" / "plan.json")["segments"]
    assert segments == [[0, 0, 12], [12 - OVERLAP, 12, 24]]  # the second chunk starts OVERLAP frames early, cold
    frames = work_frames(out)
    for k, j in enumerate(range(12 - OVERLAP, 12)):
        earlier = np.asarray(Image.open(frames / "fades" / f"{j:06d}.fade-out.png"), np.float32)
        later = np.asarray(Image.open(frames / "fades" / f"{j:06d}.fade-in.png"), np.float32)
        final = np.asarray(Image.open(frames / f"{j:06d}.png"), np.float32)
        t = (k + 1) / (OVERLAP + 1)
        assert np.abs(final - np.rint((1 - t) * earlier + t * later)).max() <= 1
        assert np.abs(earlier - later).mean() > 1  # two independent starts: the fade has work to do


def test_ray_is_imported_only_when_asked_for(tmp_path: Path, style_image: Path) -> None:
    import subprocess
    import sys

    photo = make_image(tmp_path / "p.png")
    code = ("import sys; from stylizer.cli import main; "
            f"rc = main([{str(photo)!r}, {str(style_image)!r}, '--size', '64', '--iterations', '1', '--quiet']); "
            "sys.exit(rc if 'ray' not in sys.modules else 99)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr


# ------------------------------------------------------------------------------ overnight batches (issue 12)

def test_a_folder_night_survives_an_unwritable_sub_folder_and_a_format_collision(tmp_path: Path,
                                                                                  style_image: Path,
                                                                                  stylize) -> None:
    photos = tmp_path / "photos"
    make_image(photos / "a.png", seed=1)
    make_image(photos / "a.jpg", seed=2)  # both become a.png under --format png
    make_image(photos / "b.png", seed=3)
    make_image(photos / "sub" / "c.png", seed=4)
    make_image(photos / "d.png", seed=5)
    out = tmp_path / "out"
    out.mkdir()
    (out / "sub").write_text("a file where the sub-folder would go")  # no folder can be made there
    rc, stdout, err = stylize(photos, style_image, *FAST, "--recursive", "--format", "png", "-o", out)
    assert rc == 1, err
    assert "done 2" in stdout and "failed 3" in stdout
    assert sorted(p.name for p in out.glob("*.png")) == ["b.png", "d.png"]
    failures = (out / "failures.txt").read_text()
    assert f"{photos / 'a.png'}: its output {out / 'a.png'} would also be written for {photos / 'a.jpg'}" in failures
    assert f"{photos / 'a.jpg'}" in failures
    assert f"cannot write {out / 'sub' / 'c.png'}" in failures


@pytest.mark.slow
def test_a_killed_folder_run_already_lists_its_failures(tmp_path: Path, style_image: Path) -> None:
    photos = tmp_path / "photos"
    make_image(photos / "a.png", seed=1)
    make_image(photos / "a.jpg", seed=2)
    for i in range(8):
        make_image(photos / f"p{i}.png", seed=10 + i)
    out = tmp_path / "out"
    proc = start_cli(photos, style_image, *FAST, "--format", "png", "-o", out)
    assert wait_for(lambda: len(list(out.glob("p*.png"))) >= 1, proc)
    kill(proc)
    assert len(list(out.glob("p*.png"))) < 8  # killed half-way
    assert "would also be written" in (out / "failures.txt").read_text()


def test_another_crf_re_encodes_kept_frames_without_optimising(tmp_path: Path, style_image: Path, stylize,
                                                              monkeypatch) -> None:
    from stylizer import engine
    from stylizer.io.readers import read_comment

    clip = make_video(tmp_path / "clip.mp4", seconds=0.2)
    out = tmp_path / "out.mp4"
    rc, _, err = stylize(clip, style_image, *FAST, "-o", out, "--keep-frames")
    assert rc == 0, err
    first_tag = read_comment(out)

    def no_network(*_args, **_kwargs):
        raise AssertionError("a re-encode must not load the network")

    monkeypatch.setattr(engine.Stylizer, "__init__", no_network)
    rc, stdout, err = stylize(clip, style_image, *FAST, "-o", out, "--keep-frames", "--crf", "35")
    assert rc == 0, err
    assert "done 0, skipped 5" in stdout
    assert read_comment(out) != first_tag and read_comment(out).split()[1] == first_tag.split()[1]
    assert video_facts(out)[3] == 5

    # Without kept frames, another --crf says why it cannot simply re-encode.
    rc, _, err = stylize(clip, style_image, *FAST, "-o", out, "--crf", "20")  # the kept frames, then removed
    assert rc == 0, err
    rc, _, err = stylize(clip, style_image, *FAST, "-o", out, "--crf", "25")
    assert_user_error(rc, err, 1, "--crf", "frames were not kept", "--force")


def test_a_moved_project_resumes_and_a_refusal_names_the_option(tmp_path: Path, style_image: Path,
                                                                stylize) -> None:
    import shutil

    first = tmp_path / "first"
    clip = make_video(first / "clip.mp4", seconds=0.24)
    out = first / "clip.stylized.mp4"
    rc, _, err = stylize(clip, style_image, *FAST, "--keep-frames")
    assert rc == 0, err
    out.unlink()
    moved = tmp_path / "moved"
    shutil.move(first, moved)
    rc, stdout, err = stylize(moved / "clip.mp4", style_image, *FAST)
    assert rc == 0, err
    assert "done 0, skipped 6" in stdout

    clip2 = make_video(tmp_path / "again" / "clip.mp4", seconds=0.24)
    rc, _, err = stylize(clip2, style_image, *FAST, "--keep-frames")
    assert rc == 0, err
    (tmp_path / "again" / "clip.stylized.mp4").unlink()
    rc, _, err = stylize(clip2, style_image, *FAST, "--size", "96")
    assert_user_error(rc, err, 1, "--size 64 -> 96")


@pytest.mark.parametrize("suffix, codec", [(".mkv", "libx264"), (".avi", "libx264"), (".ts", "libx264"),
                                          (".gif", "gif")])
def test_a_finished_video_is_recognised_in_every_container(tmp_path: Path, style_image: Path, stylize,
                                                           suffix: str, codec: str) -> None:
    from stylizer import finished
    from stylizer.io.readers import read_comment

    clip = make_video(tmp_path / "clip.mp4", seconds=0.16)
    out = tmp_path / f"out{suffix}"
    rc, _, err = stylize(clip, style_image, *FAST, "--codec", codec, "-o", out)
    assert rc == 0, err
    stamp = out.stat().st_mtime_ns
    # The tag inside (Matroska upper-cases it: COMMENT), or a record beside where the container keeps none.
    inside = (read_comment(out) or "").startswith("stylizer ")
    assert inside != finished.sidecar(out).exists()
    rc, stdout, err = stylize(clip, style_image, *FAST, "--codec", codec, "-o", out)
    assert rc == 0, err
    assert "done 0, skipped 4" in stdout
    assert out.stat().st_mtime_ns == stamp
    # A file put in its place since is not taken for the result.
    shutil.copy(clip, out)
    rc, _, err = stylize(clip, style_image, *FAST, "--codec", codec, "-o", out)
    assert_user_error(rc, err, None, "--force")


def test_folder_outputs_are_checked_one_by_one(tmp_path: Path, style_image: Path, stylize) -> None:
    """Edited inputs are made again, outputs of other settings too (an interrupted --force leaves them), a
    file that stylizer did not make is refused; formats without a tag (BMP) are recognised by the record."""
    photos = tmp_path / "photos"
    for i, name in enumerate(["a.png", "b.png", "c.png", "d.png"]):
        make_image(photos / name, seed=i)
    out = tmp_path / "out"
    rc, _, err = stylize(photos, style_image, *FAST, "-o", out)
    assert rc == 0, err
    before = mtimes(out)

    make_image(photos / "a.png", seed=20)  # edited since
    other = tmp_path / "other"  # b.png made with other settings
    rc, _, err = stylize(photos, style_image, *FAST, "--style-weight", "3", "-o", other)
    assert rc == 0, err
    shutil.copy(other / "b.png", out / "b.png")
    Image.new("RGB", (8, 8)).save(out / "c.png")  # someone else's file
    rc, stdout, err = stylize(photos, style_image, *FAST, "-o", out)
    assert rc == 1, err
    assert "done 2, skipped 1" in stdout and "failed 1" in stdout
    after = mtimes(out)
    assert after["d.png"] == before["d.png"]  # finished: untouched
    assert after["a.png"] != before["a.png"] and after["b.png"] != before["b.png"]
    assert "c.png already exists and was not made by stylizer" in (out / "failures.txt").read_text()
    assert Image.open(out / "c.png").size == (8, 8)

    bmp = tmp_path / "bmp"
    rc, _, err = stylize(photos, style_image, *FAST, "--format", "bmp", "-o", bmp)
    assert rc == 0, err
    rc, stdout, err = stylize(photos, style_image, *FAST, "--format", "bmp", "-o", bmp)
    assert rc == 0 and "done 0, skipped 4" in stdout, err


def test_a_single_image_is_recognised_in_a_format_without_tags_and_redone_when_edited(
        tmp_path: Path, style_image: Path, stylize) -> None:
    photo = make_image(tmp_path / "p.png")
    out = tmp_path / "p.bmp"
    rc, _, err = stylize(photo, style_image, *FAST, "-o", out)
    assert rc == 0, err
    stamp = out.stat().st_mtime_ns
    rc, stdout, err = stylize(photo, style_image, *FAST, "-o", out)
    assert rc == 0 and "done 0, skipped 1" in stdout, err
    assert out.stat().st_mtime_ns == stamp
    make_image(photo, seed=7)
    rc, stdout, err = stylize(photo, style_image, *FAST, "-o", out)
    assert rc == 0 and "done 1" in stdout, err
    rc, _, err = stylize(photo, style_image, *FAST, "--style-weight", "3", "-o", out)
    assert_user_error(rc, err, None, "--force")


def test_the_python_api_runs_from_a_worker_thread(tmp_path: Path, style_image: Path) -> None:
    import threading

    import stylizer
    from stylizer.errors import UsageError

    photo = make_image(tmp_path / "p.png", 80, 60)
    results = {}

    def work():
        try:
            results["report"] = stylizer.stylize(photo, style_image, tmp_path / "out.png", size=64, iterations=3)
        except BaseException as exc:  # noqa: BLE001  (handed to the test's thread)
            results["error"] = exc

    thread = threading.Thread(target=work)
    thread.start()
    thread.join(300)
    assert "error" not in results, results.get("error")
    report = results["report"]
    assert (report.done, report.failed) == (1, [])
    assert Image.open(tmp_path / "out.png").size == (80, 60)
    with pytest.raises(UsageError, match="unknown option sise"):
        stylizer.stylize(photo, style_image, sise=64)


def test_without_a_terminal_progress_is_a_plain_line_and_log_and_records_keep_the_night(
        tmp_path: Path, style_image: Path, stylize, monkeypatch) -> None:
    import json

    from stylizer import driver

    monkeypatch.setattr(driver.Progress, "EVERY_S", 0.0)  # a line on every item instead of once a minute
    photos = tmp_path / "photos"
    make_image(photos / "a.png", seed=1)
    (photos / "b.png").write_bytes(b"not an image")
    make_image(photos / "c.png", seed=3)
    log, records = tmp_path / "night.log", tmp_path / "night.jsonl"
    rc, stdout, err = stylize(photos, style_image, *FAST, "--log", log, "--records", records)
    assert rc == 1, err
    assert "progress: 3/3 img" in err  # stderr here is no terminal: tqdm shows nothing, the plain line does
    assert "progress:" not in stdout and stdout.count("\n") == 1  # stdout: the summary alone
    text = log.read_text()
    assert "failed:" in text and "b.png" in text and "done 2, skipped 0" in text
    lines = [json.loads(line) for line in records.read_text().splitlines()]
    assert [(Path(r["item"]).name, r["status"]) for r in lines] == [("b.png", "failed"), ("a.png", "done"),
                                                                   ("c.png", "done")] or \
        sorted((Path(r["item"]).name, r["status"]) for r in lines) == [("a.png", "done"), ("b.png", "failed"),
                                                                      ("c.png", "done")]
    done = [r for r in lines if r["status"] == "done"]
    assert all(r["iterations"] >= 1 and r["evaluations"] >= r["iterations"] and set(r["losses"]) >= {"style", "content"}
               for r in done)
    assert "reason" in next(r for r in lines if r["status"] == "failed")
