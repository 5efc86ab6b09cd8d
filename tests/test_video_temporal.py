"""Temporal coupling in the driver: scene cuts split the plan; flow mode flickers less on a real clip."""

import json
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from stylizer import driver, engine, metrics
from stylizer.plan import plan_video
from stylizer.io.readers import load_image
from stylizer.io.writers import assemble_video
from stylizer.settings import Settings

SAMPLES = Path(__file__).resolve().parents[1] / "samples"


def _shot(photo: Path, frames: int, step: int) -> list[np.ndarray]:
    """A real photo panned by `step` px per frame: camera motion without a cut."""
    rgb = load_image(photo).rgb
    return [np.ascontiguousarray(rgb[20:140, 10 + k * step: 170 + k * step]) for k in range(frames)]


def test_a_hard_cut_ends_a_segment(tmp_path):
    clip = tmp_path / "two_shots.mp4"
    frames = _shot(SAMPLES / "chelsea.jpg", 5, 3) + _shot(SAMPLES / "photos/coffee.jpg", 4, 2)
    assemble_video(iter(frames), clip, Fraction(12), (160, 120))
    plan = plan_video(clip, Settings(), quiet=True)
    assert plan.frames == 9
    assert plan.cuts == [5]
    assert [(s.first, s.stop) for s in plan.segments] == [(0, 5), (5, 9)]


def test_no_cut_is_found_in_camera_motion():
    plan = plan_video(SAMPLES / "city.mp4", Settings(), quiet=True)
    assert plan.frames == 30 and plan.cuts == []


@pytest.mark.weights
@pytest.mark.slow
def test_flow_mode_flickers_less_than_independent_frames(tmp_path):
    base = Settings(size=128, iterations=40, warm_iterations=20, max_frames=6, quiet=True)
    styles = engine.load_styles([SAMPLES / "starry_night.jpg"], ())
    net = {}

    def factory(settings):
        net.setdefault("stylizer", engine.Stylizer(settings, styles))
        net["stylizer"].settings = settings
        return lambda: net["stylizer"]

    results = {}
    for mode in ("flow", "none"):
        settings = base.replace(temporal=mode)
        out = tmp_path / f"{mode}.mp4"
        report = driver.run(settings, SAMPLES / "city.mp4", [SAMPLES / "starry_night.jpg"], out,
                              stylizer_factory=factory(settings))
        assert report.done == 6 and not report.failed
        results[mode] = metrics.evaluate_videos(SAMPLES / "city.mp4", out, max_frames=6)["ewarp_output"]
    assert results["flow"] < 0.7 * results["none"], results


@pytest.mark.weights
@pytest.mark.slow
def test_warm_frames_stop_once_as_good_as_the_shots_first_frame(tmp_path):
    """With a goal, warm frames stop well before their cap; the goal is kept in the work dir for a resume."""
    base = Settings(size=96, iterations=30, warm_iterations=30, max_frames=5, quiet=True, keep_frames=True)
    styles = engine.load_styles([SAMPLES / "starry_night.jpg"], ())
    stylizer = engine.Stylizer(base, styles)
    warm = {}
    for margin in (0.05, None):
        settings = base.replace(warm_margin=margin)
        stylizer.settings = settings
        out = tmp_path / f"{margin}.mp4"
        report = driver.run(settings, SAMPLES / "city.mp4", [SAMPLES / "starry_night.jpg"], out,
                              stylizer_factory=lambda: stylizer)
        assert report.done == 5 and not report.failed
        warm[margin] = report.iterations[1:]
        goals = json.loads((tmp_path / f".{out.name}.work" / "goals.json").read_text())
        assert set(goals) == {"0"} and goals["0"]["style"] > 0
    assert np.mean(warm[0.05]) <= 0.5 * base.warm_iterations, warm
    assert np.mean(warm[0.05]) < np.mean(warm[None]), warm
