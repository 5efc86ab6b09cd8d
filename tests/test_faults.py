"""Overnight-proof: fault injection with real broken files, a full disk, NaN losses and SIGKILL at random moments.

What must hold whatever goes wrong: one `stylize-video: error:` line and no traceback for a user error,
exit code 2 for usage errors, 1 when items failed, 0 when all is done; every output on disk decodes;
finished work survives and a re-run completes.
"""

from __future__ import annotations

import random
import re
import shutil
import signal
import subprocess
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import (
    FAST,
    assert_user_error,
    decodes_fully,
    finish,
    image_decodes,
    kill,
    make_image,
    mtimes,
    run_cli,
    start_cli,
    video_facts,
    wait_for,
)
from conftest_media import make_audio, make_vfr_video, make_video, truncate
from stylizer import driver as pipeline
from stylizer.engine import Stylizer, load_styles
from stylizer.settings import Settings


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """4 frames, 64x48, 25 fps: the input of runs that are expected to work."""
    return make_video(tmp_path_factory.mktemp("clip") / "clip.mp4", seconds=0.16)


def visible(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()
                  and not any(part.startswith(".") for part in p.relative_to(folder).parts))


def leftovers(folder: Path) -> list[str]:
    """Temporary files of the atomic writers (".name.<token>.partial.ext" / ".video.ext")."""
    return sorted(p.name for p in folder.rglob(".*") if re.search(r"\.[0-9a-f]{8}\.(partial|video)", p.name))


# ------------------------------------------------------------------------------------------------- inputs

def test_missing_input_is_a_usage_error_in_a_real_process(tmp_path: Path, style_image: Path) -> None:
    rc, out, err = run_cli(tmp_path / "nowhere.mp4", style_image, *FAST)
    assert_user_error(rc, err, 2, "nowhere.mp4")


def test_argparse_usage_errors_exit_2(tmp_path: Path, style_image: Path, stylize) -> None:
    rc, _, err = run_cli(tmp_path / "in.mp4", style_image, "--iterations", "many")
    assert_user_error(rc, err, 2, "--iterations")
    rc, _, err = stylize()
    assert_user_error(rc, err, 2, "give an input")


@pytest.mark.parametrize("case", ["missing", "text", "tiny", "empty"])
def test_bad_style_images(tmp_path: Path, clip: Path, stylize, case: str) -> None:
    style = tmp_path / "style.png"
    if case == "text":
        style.write_text("this is a poem, not a painting\n")
    elif case == "tiny":
        make_image(style, 8, 8)
    elif case == "empty":
        style.write_bytes(b"")
    rc, _, err = stylize(clip, style, *FAST, "-o", tmp_path / "out.mp4")
    line = assert_user_error(rc, err, 2, "style.png")
    if case == "tiny":
        assert "too small" in line
    assert not (tmp_path / "out.mp4").exists()


def test_empty_folder(tmp_path: Path, style_image: Path, stylize) -> None:
    (tmp_path / "empty").mkdir()
    rc, _, err = stylize(tmp_path / "empty", style_image, *FAST)
    assert_user_error(rc, err, 2, "no images")


def test_folder_of_only_non_images_says_so(tmp_path: Path, style_image: Path, stylize) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.txt").write_text("x")
    rc, _, err = stylize(tmp_path / "docs", style_image, *FAST)
    assert_user_error(rc, err, 2, "no images", "1 other")


def test_tiny_content_image_fails_with_a_clear_message(tmp_path: Path, style_image: Path, stylize) -> None:
    tiny = make_image(tmp_path / "tiny.png", 8, 8)
    rc, out, err = stylize(tiny, style_image, *FAST)
    line = assert_user_error(rc, err, 2, "tiny.png")
    assert re.search(r"too small \(8x8\).*at least 32 px", line), line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny.png"]


def test_tiny_image_in_a_folder_fails_alone(tmp_path: Path, style_image: Path, stylize) -> None:
    photos = tmp_path / "photos"
    make_image(photos / "tiny.png", 8, 8)
    make_image(photos / "fine.png")
    rc, out, err = stylize(photos, style_image, *FAST)
    assert rc == 1, err
    assert "too small (8x8)" in (tmp_path / "photos_stylized" / "failures.txt").read_text()
    assert image_decodes(tmp_path / "photos_stylized" / "fine.png")


@pytest.mark.parametrize("case", ["empty", "text", "truncated"])
def test_broken_single_image_is_a_user_error(tmp_path: Path, style_image: Path, stylize, case: str) -> None:
    photo = tmp_path / "photo.jpg"
    if case == "empty":
        photo.write_bytes(b"")
    elif case == "text":
        photo.write_text("a shopping list\n")
    else:
        truncate(make_image(photo, 300, 200), 0.4)
    rc, _, err = stylize(photo, style_image, *FAST)
    assert_user_error(rc, err, 2, "photo.jpg")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photo.jpg"]


def test_unusual_image_modes_are_all_stylized(tmp_path: Path, style_image: Path, stylize) -> None:
    photos = tmp_path / "modes"
    make_image(photos / "gray.png", mode="L")
    make_image(photos / "cmyk.jpg", mode="CMYK")
    make_image(photos / "palette.png", mode="P")
    make_image(photos / "rgba.png", mode="RGBA")
    sixteen = np.tile(np.linspace(0, 65535, 64).astype(np.uint16), (48, 1))
    Image.fromarray(sixteen).save(photos / "deep.png")
    rc, out, err = stylize(photos, style_image, *FAST)
    assert rc == 0, err
    assert "done 5" in out
    result = tmp_path / "modes_stylized"
    for name in ["gray.png", "cmyk.jpg", "palette.png", "rgba.png", "deep.png"]:
        with Image.open(result / name) as im, Image.open(photos / name) as original:
            im.load()
            assert im.size == original.size, name
            assert im.format == original.format, name
    with Image.open(result / "rgba.png") as im:
        assert im.mode == "RGBA"


def test_unusual_style_image_modes(tmp_path: Path, clip: Path, stylize) -> None:
    styles = [make_image(tmp_path / "s16.png", 48, 48)]
    Image.fromarray(np.tile(np.linspace(0, 65535, 48).astype(np.uint16), (48, 1))).save(styles[0])
    styles.append(make_image(tmp_path / "cmyk.jpg", 40, 40, mode="CMYK"))
    styles.append(make_image(tmp_path / "pal.png", 40, 40, mode="P"))
    rc, _, err = stylize(clip, *styles, *FAST, "--max-frames", "1", "-o", tmp_path / "out.mp4")
    assert rc == 0, err


@pytest.mark.slow
def test_large_image_is_written_at_its_original_size(tmp_path: Path, style_image: Path, stylize) -> None:
    big = make_image(tmp_path / "big.jpg", 4000, 3000, quality=80)
    rc, _, err = stylize(big, style_image, *FAST)
    assert rc == 0, err
    with Image.open(tmp_path / "big.stylized.jpg") as im:
        assert im.size == (4000, 3000)
        im.load()


def test_names_with_spaces_and_non_ascii(tmp_path: Path, stylize) -> None:
    style = make_image(tmp_path / "stil ö 画.png", 48, 48, seed=5)
    video = make_video(tmp_path / "my clip é.mp4", seconds=0.12)
    rc, _, err = stylize(video, style, *FAST)
    assert rc == 0, err
    assert video_facts(tmp_path / "my clip é.stylized.mp4")[3] == 3
    folder = tmp_path / "fotos ñ"
    make_image(folder / "bild ü 1.png")
    make_image(folder / "sub dir" / "写真.jpg")
    rc, _, err = stylize(folder, style, *FAST, "--recursive")
    assert rc == 0, err
    assert image_decodes(tmp_path / "fotos ñ_stylized" / "bild ü 1.png")
    assert image_decodes(tmp_path / "fotos ñ_stylized" / "sub dir" / "写真.jpg")


def test_truncated_video_stylizes_what_decodes_and_says_so(tmp_path: Path, style_image: Path, stylize) -> None:
    video = make_video(tmp_path / "cut.mp4", fps="10", seconds=1.6, extra=("-movflags", "+faststart"))
    truncate(video, 0.7)  # the index (at the front) says 16 frames; only the first few survive
    rc, out, err = stylize(video, style_image, *FAST)
    assert rc == 0, err
    _, _, rate, count, _ = video_facts(tmp_path / "cut.stylized.mp4")
    assert rate == 10
    assert 0 < count < 16
    assert re.search(rf"only {count} frames decode", err), err
    assert "Traceback" not in err


@pytest.mark.parametrize("name", ["tone.m4a", "tone.mp4"])
def test_audio_only_file(tmp_path: Path, style_image: Path, stylize, name: str) -> None:
    audio = make_audio(tmp_path / name)
    rc, _, err = stylize(audio, style_image, *FAST)
    assert_user_error(rc, err, 2, name)


def test_video_with_zero_decodable_frames(tmp_path: Path, style_image: Path, stylize) -> None:
    video = make_video(tmp_path / "headers.mkv", seconds=2)
    truncate(video, 0.1)  # the Matroska header survives, no frame does
    rc, _, err = stylize(video, style_image, *FAST)
    assert_user_error(rc, err, None, "headers.mkv", "not a single frame")
    assert not list(tmp_path.glob("headers.stylized*"))


def test_start_past_the_end_is_a_clear_error(clip: Path, tmp_path: Path, style_image: Path, stylize) -> None:
    rc, _, err = stylize(clip, style_image, *FAST, "--start", "100", "-o", tmp_path / "out.mp4")
    assert_user_error(rc, err, None, "no frames")


def test_text_file_named_like_a_video(tmp_path: Path, style_image: Path, stylize) -> None:
    fake = tmp_path / "holiday.mp4"
    fake.write_text("not a video at all\n")
    rc, _, err = stylize(fake, style_image, *FAST)
    assert_user_error(rc, err, None, "holiday.mp4")


def test_variable_frame_rate_video(tmp_path: Path, style_image: Path, stylize) -> None:
    video = make_vfr_video(tmp_path / "vfr.mkv", fps=30, seconds=0.3)
    rc, _, err = stylize(video, style_image, *FAST)
    assert rc == 0, err
    assert video_facts(tmp_path / "vfr.stylized.mp4")[3] == 6  # each decoded frame once, none repeated


# ------------------------------------------------------------------------------------------------- outputs

def test_existing_output_from_other_settings_is_refused_unless_force(tmp_path: Path, style_image: Path,
                                                                    stylize) -> None:
    photo = make_image(tmp_path / "photo.png")
    out = tmp_path / "photo.stylized.png"
    make_image(out, seed=9)  # something else already has the name
    before = out.read_bytes()
    rc, _, err = stylize(photo, style_image, *FAST)
    assert_user_error(rc, err, None, "already exists", "--force")
    assert out.read_bytes() == before
    rc, _, err = stylize(photo, style_image, *FAST, "--force")
    assert rc == 0, err
    assert out.read_bytes() != before
    # Made by these settings: the same command again is a no-op, other settings are refused.
    stamp = out.stat().st_mtime_ns
    rc, stdout, err = stylize(photo, style_image, *FAST)
    assert rc == 0 and "skipped 1" in stdout, err
    rc, _, err = stylize(photo, style_image, *FAST, "--style-weight", "3")
    assert_user_error(rc, err, None, "--force")
    assert out.stat().st_mtime_ns == stamp


def test_existing_video_output_not_made_by_us_is_refused(tmp_path: Path, clip: Path, style_image: Path,
                                                         stylize) -> None:
    out = tmp_path / "out.mp4"
    make_video(out, seconds=0.2, fps="10")
    before = out.read_bytes()
    rc, _, err = stylize(clip, style_image, *FAST, "-o", out)
    assert_user_error(rc, err, None, "already exists", "--force")
    assert out.read_bytes() == before


@pytest.mark.parametrize("kind", ["video", "folder", "image"])
def test_unwritable_output_location(tmp_path: Path, clip: Path, style_image: Path, stylize, kind: str) -> None:
    blocker = tmp_path / "file.txt"
    blocker.write_text("a regular file, so nothing can be created under it (even by root)")
    source = {"video": clip, "image": make_image(tmp_path / "a.png"), "folder": tmp_path / "photos"}[kind]
    if kind == "folder":
        make_image(source / "p.png")
    target = blocker / ("out.mp4" if kind == "video" else "out.png" if kind == "image" else "out")
    rc, _, err = stylize(source, style_image, *FAST, "-o", target)
    assert_user_error(rc, err, 1, "file.txt")


def test_video_output_name_without_a_video_extension_is_refused_up_front(tmp_path: Path, clip: Path,
                                                                        style_image: Path, stylize) -> None:
    rc, _, err = stylize(clip, style_image, *FAST, "-o", tmp_path / "result")
    assert_user_error(rc, err, 2, "extension")
    assert list(tmp_path.iterdir()) == []


def test_unwritable_output_in_a_real_process(tmp_path: Path, clip: Path, style_image: Path) -> None:
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    rc, _, err = run_cli(clip, style_image, *FAST, "-o", blocker / "out.mp4")
    assert_user_error(rc, err, 1, "file.txt")


def mount_tmpfs(point: Path, options: str) -> None:
    """Mount a tmpfs (tests run as root in this sandbox); skip the test, with the reason, where that fails."""
    point.mkdir(exist_ok=True)
    try:
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(point)],
                                 capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        pytest.skip(f"cannot mount a tmpfs here: {exc}")
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")


def unmount(point: Path) -> None:
    subprocess.run(["umount", "-l", str(point)], capture_output=True, timeout=30)


@pytest.fixture
def small_disk(tmp_path: Path):
    """A 300 KiB tmpfs; yields (mount point, grow()) and unmounts afterwards."""
    point = tmp_path / "disk"
    mount_tmpfs(point, "size=300k")

    def grow() -> None:
        subprocess.run(["mount", "-o", "remount,size=20m", str(point)], check=True, timeout=30)

    try:
        yield point, grow
    finally:
        unmount(point)


@pytest.mark.parametrize("kind", ["video", "folder", "image"])
def test_read_only_output_location(tmp_path: Path, clip: Path, style_image: Path, stylize, kind: str) -> None:
    point = tmp_path / "ro"
    mount_tmpfs(point, "ro,size=1m")
    try:
        source = {"video": clip, "image": make_image(tmp_path / "a.png"), "folder": tmp_path / "photos"}[kind]
        if kind == "folder":
            make_image(source / "p.png")
        target = point / ("out.mp4" if kind == "video" else "out.png" if kind == "image" else "out")
        rc, _, err = stylize(source, style_image, *FAST, "-o", target)
        assert_user_error(rc, err, 1, "Read-only file system")
    finally:
        unmount(point)


@pytest.mark.slow
def test_disk_full_gives_one_line_keeps_finished_frames_and_resumes(tmp_path: Path, style_image: Path) -> None:
    # The up-front estimate passes (6 frames of 320x240 need ~1.4 MB of the 2 MB), then something else
    # fills the disk mid-run, as a download or another job would.
    point = tmp_path / "disk"
    mount_tmpfs(point, "size=2m")
    try:
        video = make_video(tmp_path / "wide.mp4", 320, 240, seconds=0.24)  # 6 frames
        out = point / "wide.stylized.mp4"
        frames = point / ".wide.stylized.mp4.work" / "frames"
        args = (video, style_image, "--size", "320", "--iterations", "3", "--warm-iterations", "2",
                "--temporal", "warm", "-o", out)
        proc = start_cli(*args)
        assert wait_for(lambda: len(list(frames.glob("[0-9]*.png"))) >= 1, proc)
        filler = point / "filler"
        free = shutil.disk_usage(point).free
        filler.write_bytes(b"\0" * max(0, free - 8192))
        rc, _, err = finish(proc)
        assert_user_error(rc, err, 1, "No space left on device")
        kept = mtimes(frames)
        assert 1 <= len(kept) < 6, err
        assert all(image_decodes(frames / name) for name in kept)
        assert not out.exists()
        assert leftovers(point) == []

        filler.unlink()
        rc, stdout, err = run_cli(*args, "--keep-frames")
        assert rc == 0, err
        assert f"skipped {len(kept)}" in stdout
        after = mtimes(frames)
        assert {name: after[name] for name in kept} == kept
        assert video_facts(out)[3] == 6
        assert decodes_fully(out)
    finally:
        unmount(point)


def test_disk_full_in_a_folder_run_keeps_the_written_images_and_resumes(tmp_path: Path, style_image: Path,
                                                                        small_disk, stylize) -> None:
    disk, grow = small_disk
    photos = tmp_path / "photos"
    for i in range(5):
        make_image(photos / f"p{i}.png", 320, 240, seed=i)
    out = disk / "styled"
    rc, _, err = stylize(photos, style_image, *FAST, "-o", out)
    assert_user_error(rc, err, 1, "No space left on device")
    written = mtimes(out, "p*.png")
    assert 1 <= len(written) < 5, err
    check_outputs_decode(out)
    assert leftovers(out) == []

    grow()
    rc, stdout, err = stylize(photos, style_image, *FAST, "-o", out)
    assert rc == 0, err
    assert f"done {5 - len(written)}, skipped {len(written)}" in stdout
    after = mtimes(out, "p*.png")
    assert len(after) == 5 and {name: after[name] for name in written} == written


# ------------------------------------------------------------------------------------------------- NaN

class NaNStylizer(Stylizer):
    """Poisons chosen optimisations: from the second loss evaluation of attempt n (0-based) on, the loss is NaN."""

    def __init__(self, *args, poison: set[int], **kwargs):
        super().__init__(*args, **kwargs)
        self.poison = poison
        self.attempts = 0
        self.inits: list[str | None] = []

    def stylize(self, content, iterations, init=None, **kwargs):
        self.inits.append(init if init is None or isinstance(init, str) else "previous")
        return super().stylize(content, iterations, init=init, **kwargs)

    def value_and_grad(self, shape, colours=None):
        inner = super().value_and_grad(shape, colours)
        attempt, self.attempts = self.attempts, self.attempts + 1
        if attempt not in self.poison:
            return inner
        calls = 0

        def poisoned(*args, **kwargs):
            nonlocal calls
            loss, grad, parts = inner(*args, **kwargs)
            calls += 1
            return (loss * float("nan") if calls >= 2 else loss), grad, parts

        return poisoned


def nan_factory(settings: Settings, style: Path, poison: set[int], made: list):
    styles = load_styles([style], settings.style_weights)

    def factory():
        stylizer = NaNStylizer(settings, styles, poison=poison)
        made.append(stylizer)
        return stylizer

    return factory


TINY = Settings(size=64, iterations=3, warm_iterations=2, quiet=True)


def test_nan_in_a_folder_is_retried_from_content_then_reported(tmp_path: Path, style_image: Path) -> None:
    photos = tmp_path / "photos"
    for name in "abcd":
        make_image(photos / f"{name}.png", seed=ord(name))
    out = tmp_path / "out"
    made: list[NaNStylizer] = []
    # a: attempt 0 fine; b: attempts 1 and 2 NaN -> failed; c: attempt 3 NaN, retry 4 fine; d: 5 fine.
    report = pipeline.run(TINY, photos, [style_image], out,
                          stylizer_factory=nan_factory(TINY, style_image, {1, 2, 3}, made))
    assert len(made) == 1
    assert made[0].inits == [None, None, "content", None, "content", None]
    assert [Path(source).name for source, _ in report.failed] == ["b.png"]
    assert "NaN" in report.failed[0][1]
    assert report.done == 3
    assert sorted(p.name for p in visible(out)) == ["a.png", "c.png", "d.png", "failures.txt", "report.html"]
    assert "b.png" in (out / "failures.txt").read_text()
    # A re-run retries only the failed image, and clears the failures file once it succeeds.
    report = pipeline.run(TINY, photos, [style_image], out)
    assert (report.done, report.skipped, report.failed) == (1, 3, [])
    assert not (out / "failures.txt").exists()


def test_nan_in_a_video_keeps_its_length_lists_the_frame_and_a_rerun_retries_it(
        tmp_path: Path, clip: Path, style_image: Path) -> None:
    out = tmp_path / "out.mp4"
    made: list[NaNStylizer] = []
    # Frame 0: attempt 0; frame 1: attempts 1 and 2 poisoned -> failed; frames 2, 3 fine. Warm frames take
    # an iteration here, so that frame 1 reaches its poisoned second evaluation even when its warped start
    # is already at the goal.
    settings = TINY.replace(warm_min_iterations=1)
    report = pipeline.run(settings, clip, [style_image], out,
                          stylizer_factory=nan_factory(settings, style_image, {1, 2}, made))
    # A shot's first frame starts from the photo (--init auto), as does the cold retry.
    assert made[0].inits[:3] == ["content", "previous", "content"]
    assert [source for source, _ in report.failed] == [f"{clip} frame 1"]
    assert report.done == 3
    assert video_facts(out)[3] == 4  # the unstylised frame stands in
    failures = out.with_name("out.mp4.failures.txt")
    assert "frame 1" in failures.read_text()

    report = pipeline.run(settings, clip, [style_image], out)
    assert (report.done, report.failed) == (1, [])
    assert not failures.exists()
    assert video_facts(out)[3] == 4
    assert not (tmp_path / ".out.mp4.work").exists()


# ------------------------------------------------------------------------------------------------- SIGKILL

def check_outputs_decode(folder: Path) -> None:
    for path in visible(folder):
        if path.suffix == ".mp4":
            assert decodes_fully(path), path
        elif path.suffix in (".png", ".jpg"):
            assert image_decodes(path), path


@pytest.mark.slow
def test_sigkill_at_random_moments_of_a_video_run(tmp_path: Path, style_image: Path, stylize) -> None:
    rng = random.Random(20240601)
    # 20 frames, optimised at 64 px but encoded at 640x480: encoding takes long enough to be killed in.
    video = make_video(tmp_path / "in" / "clip.mp4", 640, 480, seconds=0.8, audio=True)
    out = tmp_path / "out" / "clip.mp4"
    frames = out.parent / ".clip.mp4.work" / "frames"
    finished = lambda: len(list(frames.glob("[0-9]*.png")))  # noqa: E731
    encoding = lambda: bool(list(out.parent.glob(".clip.*.mp4")))  # noqa: E731  (the encoder's temp file)
    # Kill once early, once in the middle, once while encoding the video, each after a random delay.
    early, middle = rng.randint(1, 5), rng.randint(8, 14)
    for ready, delay, what in [(lambda: finished() >= early, rng.uniform(0, 0.1), "early"),
                               (lambda: finished() >= middle, rng.uniform(0, 0.1), "middle"),
                               (encoding, 0.0, "encoding")]:
        proc = start_cli(video, style_image, *FAST, "-o", out)
        assert wait_for(ready, proc), f"the run ended before the {what} kill"
        wait_for(lambda: False, proc, timeout=delay)
        mid_run = finished() < 20 or encoding()
        rc, _, _ = kill(proc)
        assert rc == -signal.SIGKILL and mid_run, f"the {what} kill did not land mid-run"
        if what != "encoding":
            assert not out.exists()
        elif out.exists():  # renamed in the instant between the check and the kill: then it is complete
            assert video_facts(out)[3] == 20 and decodes_fully(out)
        check_outputs_decode(out.parent)
        assert all(image_decodes(p) for p in frames.glob("*.png"))

    rc, _, err = stylize(video, style_image, *FAST, "-o", out)
    assert rc == 0, err
    _, _, rate, count, audio = video_facts(out)
    assert (rate, count, audio) == (Fraction(25), 20, True)
    assert decodes_fully(out)
    assert visible(out.parent) == [out, out.with_name(out.name + ".report.html")]
    assert leftovers(out.parent) == []


@pytest.mark.slow
def test_sigkill_at_random_moments_of_a_folder_run(tmp_path: Path, style_image: Path, stylize) -> None:
    rng = random.Random(7)
    photos = tmp_path / "photos"
    for i in range(10):
        make_image(photos / f"p{i}.png", 96, 72, seed=i)
    out = tmp_path / "photos_stylized"
    done = lambda: len(list(out.glob("p*.png")))  # noqa: E731
    for target in [rng.randint(1, 2), rng.randint(3, 5), rng.randint(6, 8)]:
        proc = start_cli(photos, style_image, *FAST)
        assert wait_for(lambda: done() >= target, proc)
        wait_for(lambda: False, proc, timeout=rng.uniform(0, 0.2))
        rc, _, _ = kill(proc)
        assert rc == -signal.SIGKILL and target <= done() < 10, "the kill did not land mid-run"
        check_outputs_decode(out)

    rc, stdout, err = stylize(photos, style_image, *FAST)
    assert rc == 0, err
    assert sorted(p.name for p in visible(out)) == [f"p{i}.png" for i in range(10)] + ["report.html"]
    check_outputs_decode(out)
    assert leftovers(out) == []
