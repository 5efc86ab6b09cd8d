"""The command line: default output names, never overwriting an input, exit codes and one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import FAST, assert_user_error, image_decodes, make_image, run_cli, video_facts
from conftest_media import make_video


def test_help_exits_0_and_lists_exit_codes() -> None:
    rc, out, err = run_cli("--help")
    assert rc == 0, err
    assert "usage: stylize-video" in out and "Exit codes" in out


def test_default_outputs_beside_the_input(tmp_path: Path, style_image: Path, stylize) -> None:
    photo = make_image(tmp_path / "in.jpg")
    rc, out, err = stylize(photo, style_image, *FAST)
    assert rc == 0, err
    assert image_decodes(tmp_path / "in.stylized.jpg")
    assert "output: " in out and "in.stylized.jpg" in out  # the summary says where

    photos = tmp_path / "photos"
    make_image(photos / "a.png")
    rc, _, err = stylize(f"{photos}/", style_image, *FAST)  # a trailing slash changes nothing
    assert rc == 0, err
    assert image_decodes(tmp_path / "photos_stylized" / "a.png")


def test_video_default_output_is_mp4_whatever_the_input_container(tmp_path: Path, style_image: Path,
                                                                  stylize) -> None:
    clip = make_video(tmp_path / "in.mkv", seconds=0.08)
    rc, _, err = stylize(clip, style_image, *FAST)
    assert rc == 0, err
    assert video_facts(tmp_path / "in.stylized.mp4")[3] == 2


def test_current_folder_as_input(tmp_path: Path, style_image: Path, stylize) -> None:
    photos = tmp_path / "photos"
    make_image(photos / "a.png")
    rc, _, err = stylize(".", style_image, *FAST, cwd=photos)
    assert rc == 0, err
    assert image_decodes(tmp_path / "photos_stylized" / "a.png")
    assert sorted(p.name for p in photos.iterdir()) == ["a.png"]


def test_output_may_not_be_the_input(tmp_path: Path, style_image: Path, stylize) -> None:
    photo = make_image(tmp_path / "in.png")
    before = photo.read_bytes()
    for args in [("-o", photo), ("-o", tmp_path / "." / "in.png", "--force")]:
        rc, _, err = stylize(photo, style_image, *FAST, *args)
        assert_user_error(rc, err, 2, "overwrite the input")
    assert photo.read_bytes() == before

    clip = make_video(tmp_path / "clip.mp4", seconds=0.08)
    before = clip.read_bytes()
    rc, _, err = stylize(clip, style_image, *FAST, "-o", clip, "--force")
    assert_user_error(rc, err, 2, "overwrite the input")
    assert clip.read_bytes() == before


def test_output_folder_may_not_contain_the_input_folder(tmp_path: Path, style_image: Path, stylize) -> None:
    photos = tmp_path / "photos"
    make_image(photos / "a.png")
    rc, _, err = stylize(photos, style_image, *FAST, "-o", tmp_path)
    assert_user_error(rc, err, 2, "contains the input")
    rc, _, err = stylize(photos, style_image, *FAST, "-o", photos)
    assert_user_error(rc, err, 2)
    assert sorted(p.name for p in photos.iterdir()) == ["a.png"]


def test_output_folder_inside_the_input_is_never_read_as_input(tmp_path: Path, style_image: Path,
                                                               stylize) -> None:
    photos = tmp_path / "photos"
    make_image(photos / "a.png")
    make_image(photos / "b.jpg", seed=1)
    out = photos / "styled"
    for _ in range(2):
        rc, stdout, err = stylize(photos, style_image, *FAST, "--recursive", "-o", out)
        assert rc == 0, err
        assert not [line for line in err.splitlines() if "styled" in line and "report:" not in line]
    assert "done 0, skipped 2" in stdout  # its outputs not read as inputs, not even listed as skipped files
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")
                  if p.is_file() and not p.relative_to(out).parts[0].startswith(".")) == ["a.png", "b.jpg",
                                                                                           "report.html"]


def test_an_existing_file_where_the_output_folder_goes(tmp_path: Path, style_image: Path, stylize) -> None:
    photos = tmp_path / "photos"
    make_image(photos / "a.png")
    (tmp_path / "photos_stylized").write_text("mine")
    rc, _, err = stylize(photos, style_image, *FAST)
    assert_user_error(rc, err, 2, "not a folder")
    assert (tmp_path / "photos_stylized").read_text() == "mine"


def test_video_output_that_is_a_folder(tmp_path: Path, style_image: Path, stylize) -> None:
    clip = make_video(tmp_path / "clip.mp4", seconds=0.08)
    (tmp_path / "outdir").mkdir()
    rc, _, err = stylize(clip, style_image, *FAST, "-o", tmp_path / "outdir")
    assert_user_error(rc, err, 2, "is a folder")


@pytest.mark.parametrize("args, words", [
    (("--size", "8"), ("--size",)),
    (("--every", "0"), ("--every",)),
    (("--max-frames", "0"), ("--max-frames",)),
    (("--start", "5", "--end", "3"), ("--end",)),
    (("--style-layers", "block9_conv9"), ("block9_conv9",)),
    (("--style-weights", "1", "2"), ("--style-weights",)),
    (("--iterations", "0"), ("iteration",)),
    (("--size", "fifty"), ("--size", "full")),
    (("--temporal-frames", "2", "4"), ("--temporal-frames",)),
    (("--style-layer-weights", "1", "2"), ("--style-layer-weights", "5")),
    (("--pooling", "min"), ("--pooling",)),
    (("--preserve-colors", "sepia"), ("--preserve-colors",)),
    (("--warm-changing-iterations", "-1"), ("--warm-changing-iterations",)),
])
def test_bad_options_are_usage_errors(tmp_path: Path, style_image: Path, stylize, args, words) -> None:
    photo = make_image(tmp_path / "in.png")
    rc, _, err = stylize(photo, style_image, *FAST, *args)
    assert_user_error(rc, err, 2, *words)
    assert not (tmp_path / "in.stylized.png").exists()


def test_no_style_given(tmp_path: Path, stylize) -> None:
    photo = make_image(tmp_path / "in.png")
    rc, _, err = stylize(photo)
    assert_user_error(rc, err, 2, "style")


def test_exit_codes_0_done_1_some_failed(tmp_path: Path, style_image: Path, stylize) -> None:
    photos = tmp_path / "photos"
    make_image(photos / "a.png")
    rc, out, _ = stylize(photos, style_image, *FAST)
    assert rc == 0 and "failed 0" in out
    (photos / "b.png").write_bytes(b"")
    rc, out, err = stylize(photos, style_image, *FAST)
    assert rc == 1 and "failed 1" in out
    assert "Traceback" not in err and "b.png" in err


def test_webm_output_with_h264_is_refused_before_any_work(tmp_path: Path, style_image: Path, stylize) -> None:
    clip = make_video(tmp_path / "in.mp4", seconds=0.2)
    rc, _, err = stylize(clip, style_image, "-o", tmp_path / "out.webm", *FAST)
    assert_user_error(rc, err, 2, "libvpx-vp9")
    assert not (tmp_path / ".out.webm.work").exists()


def test_unknown_codec_is_refused_before_any_work(tmp_path: Path, style_image: Path, stylize) -> None:
    clip = make_video(tmp_path / "in.mp4", seconds=0.2)
    rc, _, err = stylize(clip, style_image, "--codec", "no-such-encoder", "-o", tmp_path / "out.mp4", *FAST)
    assert_user_error(rc, err, 2, "no-such-encoder")
    assert not (tmp_path / ".out.mp4.work").exists()


def test_several_inputs_run_in_one_call_with_one_model_load(tmp_path, style_image, stylize, monkeypatch):
    from conftest import FAST, make_image
    from conftest_media import make_video
    from stylizer import driver, engine

    made = []
    real = engine.Stylizer.__init__

    def counting(self, *args, **kwargs):
        made.append(1)
        real(self, *args, **kwargs)

    monkeypatch.setattr(engine.Stylizer, "__init__", counting)
    monkeypatch.setattr(driver, "_loaded", {})
    clip = make_video(tmp_path / "a.mp4", seconds=0.12)
    photos = tmp_path / "photos"
    make_image(photos / "p.png")
    missing = tmp_path / "nowhere.mp4"
    rc, stdout, err = stylize(clip, missing, photos, "-s", style_image, *FAST)
    assert rc == 2, err  # the missing input fails; the others are done
    assert "input not found" in err and str(missing) in err
    assert (tmp_path / "a.stylized.mp4").is_file() and (tmp_path / "photos_stylized" / "p.png").is_file()
    assert stdout.count("done ") == 2
    assert made == [1]


def test_dry_run_shows_the_plan_and_an_estimate_and_writes_nothing(tmp_path, style_image, stylize):
    from conftest import FAST
    from conftest_media import make_shots

    clip = make_shots(tmp_path / "in" / "shots.mp4", [5, 4])
    before = sorted(p.name for p in (tmp_path / "in").iterdir())
    rc, stdout, err = stylize(clip, style_image, *FAST, "--dry-run")
    assert rc == 0, err
    assert "9 frames (96x72" in err and "in 2 shots (cuts at 5)" in err
    assert "working size 64x48" in err and "MiB" in err
    assert "s per evaluation here" in err and " to " in err
    assert "dry run: nothing was optimised or written" in err
    assert sorted(p.name for p in (tmp_path / "in").iterdir()) == before  # no output, no work dir
