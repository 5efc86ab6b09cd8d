"""Real ImageNet VGG16: style transfer happens (style loss falls, the subject stays)."""

from pathlib import Path

import numpy as np
import pytest

from stylizer import engine, losses
from stylizer.io.readers import load_image
from stylizer.settings import Settings

SAMPLES = Path(__file__).resolve().parents[1] / "samples"


def test_working_shape_keeps_aspect_and_never_enlarges():
    assert engine.working_shape(300, 451, 256) == (170, 256)
    assert engine.working_shape(100, 80, 512) == (100, 80)


def test_preserve_colors_keeps_the_content_chroma():
    rng = np.random.default_rng(0)
    content = rng.uniform(0, 255, (8, 8, 3)).astype(np.float32)
    stylized = np.full((8, 8, 3), 128, np.float32)
    out = engine.preserve_colors(stylized, content)
    assert np.abs(out.std(axis=2) - 0).mean() > 1  # colours come back from the content


@pytest.mark.weights
def test_style_loss_falls_tenfold_while_the_subject_stays():
    settings = Settings(size=128, iterations=60)
    styles = engine.load_styles([SAMPLES / "starry_night.jpg"], ())
    stylizer = engine.Stylizer(settings, styles)
    photo = load_image(SAMPLES / "chelsea.jpg").rgb
    h, w = engine.working_shape(*photo.shape[:2], settings.size)
    content = engine.resize(photo, h, w).astype(np.float32)
    vg = stylizer.value_and_grad((h, w))
    target = losses.content_target(stylizer.extractor, content, settings.content_layer)
    zeros = (np.zeros((1, h, w, 3), np.float32), np.zeros((1, h, w, 1), np.float32))
    style_before = float(vg(content[None], target, *zeros)[2][1])

    result = stylizer.stylize(content, settings.iterations)

    assert result.parts["style"] * 10 <= style_before
    # content term is the relative squared feature error: below 1 means the photo's features still dominate
    assert result.parts["content"] < 1.0
    out = stylizer.finish(result.image, photo)
    assert out.shape == photo.shape and out.dtype == np.uint8
