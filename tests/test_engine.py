"""Real ImageNet VGG16: style transfer happens (style loss falls, the subject stays)."""

from pathlib import Path

import numpy as np
import pytest

from stylizer import engine
from stylizer.io.readers import load_image
from stylizer.settings import FULL, Settings

SAMPLES = Path(__file__).resolve().parents[1] / "samples"


def test_working_shape_keeps_aspect_and_never_enlarges():
    assert engine.working_shape(300, 451, 256) == (170, 256)
    assert engine.working_shape(100, 80, 512) == (100, 80)


@pytest.mark.weights
def test_style_loss_falls_tenfold_while_the_subject_stays():
    settings = Settings(size=128, iterations=60)
    styles = engine.load_styles([SAMPLES / "starry_night.jpg"], ())
    stylizer = engine.Stylizer(settings, styles)
    photo = load_image(SAMPLES / "chelsea.jpg").rgb
    h, w = engine.working_shape(*photo.shape[:2], settings.size)
    content = engine.resize(photo, h, w).astype(np.float32)
    style_before = stylizer.loss_parts(content, content)["style"]

    result = stylizer.stylize(content, settings.iterations)

    assert result.parts["style"] * 10 <= style_before
    # content term is the relative squared feature error: below 1 means the photo's features still dominate
    assert result.parts["content"] < 1.0
    out = engine.finish(result.image, photo, False)
    assert out.shape == photo.shape and out.dtype == np.uint8


def test_pictures_beyond_memory_are_tiled_and_refused_only_below_the_smallest_tile(monkeypatch):
    layers = Settings().layers_in_use
    small, large = engine.memory_needed(512, 512, layers), engine.memory_needed(1024, 1024, layers)
    assert 3.9 < large / small < 4.1
    monkeypatch.setattr(engine, "available_memory", lambda: 2 * small)
    monkeypatch.setattr(engine.compute, "has_gpu", lambda: False)
    budget = engine.memory_budget(None)
    assert engine.tile_layout(512, 512, layers, budget) == [engine.tiles.Tile(0, 0, 512, 512, 0, 0)]
    # A 3000x2000 photo at --size full: tiles that each fit, not a refusal.
    layout = engine.tile_layout(2000, 3000, layers, budget)
    assert len(layout) > 1 and all(engine.memory_needed(t.height, t.width, layers) <= budget for t in layout)
    # --memory wins over what the machine has; below the smallest tile, one clear error.
    assert engine.memory_budget(0.5) == 2**29
    with pytest.raises(engine.UsageError, match=r"3000x2000 cannot be optimised in 0\.01 GiB of memory, not even "
                                                r"in tiles of 128x128 .*raise --memory"):
        engine.tile_layout(2000, 3000, layers, engine.memory_budget(0.01))
    assert engine.working_shape(2000, 3000, FULL) == (2000, 3000)


def test_a_warm_start_already_at_the_goal_is_kept_without_a_gradient(style_image):
    """A warm frame's start that reaches the shot's level is judged by a forward pass and kept as it is (no
    evaluation of the gradient, the curvature memory passed on); one that does not is optimised."""
    from conftest import pattern
    from stylizer import features

    settings = Settings(size=48, iterations=25, coarse_to_fine=False, precision="float32", optimizer="lbfgs")
    stylizer = engine.Stylizer(settings, engine.load_styles([style_image], ()),
                               params=features.random_params(0, "block5_conv1"))
    content = pattern(48, 40, seed=3).astype(np.float32)
    cold = stylizer.stylize(content, settings.iterations, init="content")
    goal = stylizer.goal(cold.parts)

    kept = stylizer.stylize(content, 10, init=cold.image, goal=goal, memory=cold.memory)
    assert (kept.stop, kept.iterations, kept.evaluations) == ("reached", 0, 0)
    np.testing.assert_array_equal(kept.image, cold.image)
    assert kept.memory is cold.memory
    assert kept.parts["style"] == pytest.approx(stylizer.loss_parts(cold.image, content)["style"], rel=1e-4)

    far = stylizer.stylize(content, 10, init=content.copy(), goal=goal, memory=cold.memory)
    assert far.evaluations > 1 and far.iterations > 0
    assert far.parts["style"] < stylizer.loss_parts(content, content)["style"]


def test_a_warm_frame_that_stops_gaining_short_of_its_goal_stops_there(style_image):
    """A warm frame whose goal is out of reach (here, no loss at all) stops once its loss improves by less
    than --warm-tolerance over five iterations, not at its cap; a cold frame keeps --tolerance, and with
    --warm-margin off (no goal) a warm frame spends its budget as before."""
    import dataclasses

    from conftest import pattern
    from stylizer import features

    settings = Settings(size=48, iterations=25, coarse_to_fine=False, precision="float32", optimizer="lbfgs",
                        warm_tolerance=0.05)
    stylizer = engine.Stylizer(settings, engine.load_styles([style_image], ()),
                               params=features.random_params(0, "block5_conv1"))
    content = pattern(48, 40, seed=3).astype(np.float32)
    cold = stylizer.stylize(content, settings.iterations, init="content")
    assert cold.stop == "budget"  # 5% over five iterations would have stopped it long before
    unreachable = dataclasses.replace(stylizer.goal(cold.parts), content=0.0, style=0.0, tv=0.0)

    stalled = stylizer.stylize(content, 30, init=cold.image, goal=unreachable, memory=cold.memory)
    assert stalled.stop == "converged" and stalled.iterations == settings.patience + 1
    assert stalled.loss < cold.loss  # it did optimise on

    no_goal = stylizer.stylize(content, 30, init=cold.image, memory=cold.memory)
    assert no_goal.iterations > stalled.iterations


@pytest.mark.weights
def test_tiled_optimisation_stylises_every_tile_without_seams():
    styles = engine.load_styles([SAMPLES / "starry_night.jpg"], ())
    photo = load_image(SAMPLES / "chelsea.jpg").rgb
    content = engine.resize(photo, 160, 240).astype(np.float32)
    layers = Settings().layers_in_use
    # Less than one evaluation of the whole picture needs: its finest level runs in tiles.
    gib = engine.memory_needed(160, 150, layers) / 2**30
    settings = Settings(size=FULL, iterations=30, memory=gib, coarse_to_fine=False)
    stylizer = engine.Stylizer(settings, styles)
    layout = stylizer._layout((160, 240))
    assert len(layout) >= 2

    result = stylizer.stylize(content, settings.iterations)

    whole = engine.Stylizer(Settings(size=FULL), styles)  # the losses of the picture as one
    before, after = whole.loss_parts(content, content), whole.loss_parts(result.image, content)
    assert after["style"] * 3 < before["style"] and after["content"] < 1.0
    assert result.iterations == sum(1 for _ in layout) * settings.iterations or result.stop != "budget"
    for tile in layout:  # every tile was optimised, not left as the photo
        assert np.abs(result.image[tile.window] - content[tile.window]).mean() > 5
    # No seam: across each tile's left edge the picture changes no more than between other columns.
    steps = np.abs(np.diff(result.image, axis=1)).mean(axis=(0, 2))
    for tile in layout[1:]:
        assert steps[tile.x - 1] < 2 * np.median(steps)
        assert steps[tile.x + tile.left - 1] < 2 * np.median(steps)


def _texture_period(image: np.ndarray) -> float:
    """The power-weighted mean wavelength (px) of the grey image's detail: larger strokes, longer waves."""
    grey = image.astype(np.float64).mean(axis=2)
    power = np.abs(np.fft.fft2(grey - grey.mean())) ** 2
    fy = np.fft.fftfreq(grey.shape[0])[:, None]
    fx = np.fft.fftfreq(grey.shape[1])[None, :]
    radius = np.hypot(fy, fx)
    radius[0, 0] = np.inf  # no DC
    return float((power / radius).sum() / power.sum())


@pytest.mark.weights
def test_style_scale_enlarges_a_small_style_image_and_its_strokes(monkeypatch):
    from stylizer import losses

    # A painting smaller than the working size: 48 px, stripes 4 px wide.
    stripes = np.zeros((48, 48, 3), np.uint8)
    stripes[:, (np.arange(48) // 4) % 2 == 0] = (240, 200, 40)
    stripes[:, (np.arange(48) // 4) % 2 == 1] = (20, 40, 160)
    ramp = np.linspace(60, 200, 96, dtype=np.float32)
    content = np.dstack([np.add.outer(ramp, ramp) / 2] * 3)  # a smooth photo: the detail is the style's
    styles = engine.Styles([stripes], [1.0], "stripes")
    seen, scales = {}, {}
    real = losses.style_grams

    def recording(extractor, images, *args, **kwargs):
        seen["shapes"] = [image.shape[:2] for image in images]
        return real(extractor, images, *args, **kwargs)

    monkeypatch.setattr(losses, "style_grams", recording)
    for scale in (1.0, 2.0):
        settings = Settings(size=96, iterations=40, style_scale=scale, style_weight=100, coarse_to_fine=False)
        stylizer = engine.Stylizer(settings, styles)
        result = stylizer.stylize(content, settings.iterations)
        assert seen["shapes"] == [(round(96 * scale), round(96 * scale))]  # enlarged, not capped at 48
        scales[scale] = _texture_period(result.image)
    assert scales[2.0] > 1.4 * scales[1.0], scales
