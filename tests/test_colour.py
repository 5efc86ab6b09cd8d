"""Colour preservation (colour.py): the statistics, the three modes' transforms, and end to end on VGG16."""

from pathlib import Path

import cv2
import numpy as np
import pytest

from stylizer import colour, engine, features
from stylizer.io.readers import load_image
from stylizer.settings import Settings

SAMPLES = Path(__file__).resolve().parents[1] / "samples"


def chroma(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(np.clip(rgb, 0, 255).astype(np.uint8), cv2.COLOR_RGB2YCrCb)[..., 1:].astype(float)


def test_stats_are_the_mean_and_covariance_of_every_pixel_of_every_image():
    rng = np.random.default_rng(0)
    images = [rng.uniform(0, 255, (5, 7, 3)), rng.uniform(40, 90, (3, 4, 3))]
    pixels = np.concatenate([im.reshape(-1, 3) for im in images])
    stats = colour.ColourStats.of(images)
    np.testing.assert_allclose(stats.mean, pixels.mean(axis=0))
    np.testing.assert_allclose(stats.matrix, np.cov(pixels.T, bias=True), atol=1e-6)
    assert colour.ColourStats.from_json(stats.to_json()) == stats


def test_histogram_mode_gives_the_painting_the_photos_mean_and_covariance():
    painting = load_image(SAMPLES / "starry_night.jpg").rgb.astype(np.float32)
    photo = load_image(SAMPLES / "chelsea.jpg").rgb
    target = colour.ColourStats.of([photo])
    matched = colour.ColourStats.of([colour.style_for(painting, "histogram", target)])
    # Within what clipping to 0-255 moves.
    np.testing.assert_allclose(matched.mean, target.mean, atol=3)
    np.testing.assert_allclose(matched.matrix, target.matrix, rtol=0.1, atol=40)


def test_luminance_mode_makes_grey_inputs_matched_in_mean_and_deviation():
    painting = load_image(SAMPLES / "starry_night.jpg").rgb.astype(np.float32)
    photo = load_image(SAMPLES / "chelsea.jpg").rgb.astype(np.float32)
    target = colour.ColourStats.of([photo])
    style = colour.style_for(painting, "luminance", target)
    content = colour.content_for(photo, "luminance")
    for image in (style, content):
        assert np.ptp(image, axis=2).max() == 0  # grey: the same value in every channel
    y = style[..., 0]
    assert y.mean() == pytest.approx(target.luminance()[0], abs=2)
    assert y.std() == pytest.approx(target.luminance()[1], rel=0.05)
    assert colour.style_for(painting, "swap", target) is painting  # swap transfers in full colour


def test_swap_keeps_the_photos_chroma():
    rng = np.random.default_rng(0)
    photo = rng.uniform(60, 200, (16, 16, 3)).astype(np.float32)
    stylized = rng.uniform(60, 200, (16, 16, 3)).astype(np.float32)
    out = colour.swap_chroma(stylized, photo)
    assert np.abs(chroma(out) - chroma(photo)).mean() < 1.5
    assert colour.keeps_chroma("swap") and colour.keeps_chroma("luminance") and not colour.keeps_chroma("histogram")


@pytest.mark.weights
@pytest.mark.slow
def test_luminance_transfer_keeps_the_chroma_and_stylises_the_luminance():
    styles = engine.load_styles([SAMPLES / "starry_night.jpg"], ())
    photo = load_image(SAMPLES / "chelsea.jpg").rgb
    h, w = engine.working_shape(*photo.shape[:2], 96)
    content = engine.resize(photo, h, w)
    outputs = {}
    for mode in (None, "luminance"):
        stylizer = engine.Stylizer(Settings(size=96, iterations=40, preserve_colors=mode), styles)
        before = stylizer.loss_parts(colour.content_for(content, mode), content)["style"]
        result = stylizer.stylize(content.astype(np.float32), 40)
        assert result.parts["style"] * 5 < before
        outputs[mode] = engine.finish(result.image, content, mode)
    assert np.abs(chroma(outputs["luminance"]) - chroma(content)).mean() < 3
    assert np.abs(chroma(outputs[None]) - chroma(content)).mean() > 6  # the plain transfer repaints
    # As stylised in luminance as the plain transfer, by another network's layers (metrics): the distance of
    # each output's luminance to the painting's, matched to the photo's tonal range as the mode matches it.
    from stylizer.metrics import IndependentFeatures

    meter = IndependentFeatures(side=96)
    painting = colour.style_for(styles.images[0].astype(np.float32), "luminance", colour.ColourStats.of([content]))
    distance = {mode: meter.style_distance(colour.grey(colour.luma(out)), painting) for mode, out in outputs.items()}
    assert distance["luminance"] <= 1.1 * distance[None], distance


def test_blended_statistics_are_those_of_the_pooled_pixels():
    rng = np.random.default_rng(1)
    a, b = rng.uniform(0, 120, (6, 6, 3)), rng.uniform(100, 255, (6, 6, 3))
    # Weights 1:2 count b's pixels twice: the same as pooling a once and b twice.
    blended = colour.ColourStats.blend([colour.ColourStats.of([a]), colour.ColourStats.of([b])], [1.0, 2.0])
    pooled = colour.ColourStats.of([a, b, b])
    np.testing.assert_allclose(blended.mean, pooled.mean, atol=1e-9)
    np.testing.assert_allclose(blended.matrix, pooled.matrix, atol=1e-6)


def test_palette_start_is_the_photo_in_the_paintings_colours():
    styles = engine.load_styles([SAMPLES / "starry_night.jpg"], ())
    photo = load_image(SAMPLES / "chelsea.jpg").rgb
    content = engine.resize(photo, *engine.working_shape(*photo.shape[:2], 96)).astype(np.float32)
    stylizer = engine.Stylizer(Settings(size=96), styles, params=features.random_params(0))
    painting = stylizer.palette()
    np.testing.assert_allclose(painting.mean, colour.ColourStats.of([styles.images[0]]).mean, atol=1)
    start = stylizer.initial_image(content)  # the default init
    matched, photo_stats = colour.ColourStats.of([start]), colour.ColourStats.of([content])
    np.testing.assert_allclose(matched.mean, painting.mean, atol=5)
    # Clipping to 0-255 trims the darkest blues, so the covariance is near the painting's, not equal to it.
    assert np.linalg.norm(matched.matrix - painting.matrix) < 0.4 * np.linalg.norm(photo_stats.matrix - painting.matrix)
    # The photo's structure stays: the start is a per-pixel colour map of it, not the painting.
    assert np.corrcoef(colour.luma(start).ravel(), colour.luma(content).ravel())[0, 1] > 0.9
    # --init content is the photo itself; under --preserve-colors histogram the painting is matched to
    # the photo, so the palette start keeps the photo's own colours.
    assert np.array_equal(stylizer.initial_image(content, "content"), content)
    keep = engine.Stylizer(Settings(size=96, preserve_colors="histogram"), styles, params=features.random_params(0))
    np.testing.assert_allclose(colour.ColourStats.of([keep.initial_image(content, colours=photo_stats)]).mean,
                               photo_stats.mean, atol=4)


@pytest.mark.weights
@pytest.mark.slow
def test_palette_start_reaches_a_lower_style_loss_than_the_photo_in_the_same_budget():
    styles = engine.load_styles([SAMPLES / "starry_night.jpg"], ())
    photo = load_image(SAMPLES / "chelsea.jpg").rgb
    content = engine.resize(photo, *engine.working_shape(*photo.shape[:2], 96)).astype(np.float32)
    parts = {}
    for init in ("content", "palette"):
        stylizer = engine.Stylizer(Settings(size=96, init=init, coarse_to_fine=False), styles)
        parts[init] = stylizer.stylize(content, 15).parts
    assert parts["palette"]["style"] < 0.9 * parts["content"]["style"], parts
    assert parts["palette"]["content"] < 1.0, parts
