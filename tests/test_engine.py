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


def test_memory_estimate_grows_with_pixels_and_names_the_size_that_fits(monkeypatch):
    layers = Settings().layers_in_use
    small, large = engine.memory_needed(512, 512, layers), engine.memory_needed(1024, 1024, layers)
    assert 3.9 < large / small < 4.1
    monkeypatch.setattr(engine, "available_memory", lambda: 2 * small)
    monkeypatch.setattr(engine.compute, "has_gpu", lambda: False)
    engine.check_memory(512, 512, layers, 512)  # fits: no error
    with pytest.raises(engine.UsageError,
                       match=r"--size 2048 \(2048x2048\) needs about .* use --size (\d+) or less") as err:
        engine.check_memory(2048, 2048, layers, 2048)
    fits = int(str(err.value).split("use --size ")[1].split()[0])
    assert 512 <= fits < 2048
    assert engine.memory_needed(fits, fits, layers) <= 2 * small
    # --size full names the input's own size, and the size that fits is measured from it.
    with pytest.raises(engine.UsageError, match=r"--size full \(3000x2000\) needs about") as err:
        engine.check_memory(2000, 3000, layers, FULL)
    fits = int(str(err.value).split("use --size ")[1].split()[0])
    assert engine.memory_needed(round(fits * 2 / 3), fits, layers) <= 2 * small
    assert engine.working_shape(2000, 3000, FULL) == (2000, 3000)


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
