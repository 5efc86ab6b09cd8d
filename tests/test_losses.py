"""Losses against plain numpy, and the objective's gradient against finite differences."""

import numpy as np
import pytest
from keras import ops

from stylizer import features, losses


def test_gram_matches_numpy():
    rng = np.random.default_rng(0)
    f = rng.normal(size=(1, 5, 7, 4)).astype(np.float32)
    flat = f.reshape(-1, 4).astype(np.float64)
    expected = flat.T @ flat / flat.shape[0]
    np.testing.assert_allclose(ops.convert_to_numpy(losses.gram(f)), expected, rtol=1e-5)


def test_style_layer_loss_is_relative_squared_gram_error():
    rng = np.random.default_rng(1)
    f = rng.normal(size=(1, 6, 6, 3)).astype(np.float32)
    target = rng.normal(size=(3, 3)).astype(np.float32)
    g = f.reshape(-1, 3).T.astype(np.float64) @ f.reshape(-1, 3) / 36
    expected = ((g - target) ** 2).sum() / (target.astype(np.float64) ** 2).sum()
    assert float(losses.style_layer_loss(f, target)) == pytest.approx(expected, rel=1e-5)
    # Zero at the target itself.
    assert float(losses.style_layer_loss(f, g.astype(np.float32))) == pytest.approx(0, abs=1e-6)


def test_content_tv_and_temporal_losses():
    rng = np.random.default_rng(2)
    a = rng.normal(size=(1, 4, 4, 2)).astype(np.float32)
    b = rng.normal(size=(1, 4, 4, 2)).astype(np.float32)
    assert float(losses.content_loss(a, b)) == pytest.approx(np.mean((a - b) ** 2) / np.mean(b**2), rel=1e-5)
    img = rng.uniform(0, 255, size=(1, 5, 6, 3)).astype(np.float32)
    tv = (np.mean(np.diff(img, axis=1) ** 2) + np.mean(np.diff(img, axis=2) ** 2)) / 255**2
    assert float(losses.total_variation(img)) == pytest.approx(tv, rel=1e-5)
    prev = rng.uniform(0, 255, size=img.shape).astype(np.float32)
    mask = (rng.uniform(size=(1, 5, 6, 1)) > 0.5).astype(np.float32)
    expected = np.mean(mask * (img - prev) ** 2) / 255**2
    assert float(losses.temporal_loss(img, prev, mask)) == pytest.approx(expected, rel=1e-5)


def test_blended_style_targets_are_the_weighted_mean():
    params = features.random_params(0, "block2_conv1")
    net = features.build_extractor(params, ("block1_conv1", "block2_conv1"))
    rng = np.random.default_rng(3)
    a, b = (rng.uniform(0, 255, (32, 32, 3)).astype(np.float32) for _ in range(2))
    blended = losses.style_grams(net, [a, b], [3.0, 1.0], ("block1_conv1",))["block1_conv1"]
    ga = losses.style_grams(net, [a], [1.0], ("block1_conv1",))["block1_conv1"]
    gb = losses.style_grams(net, [b], [1.0], ("block1_conv1",))["block1_conv1"]
    np.testing.assert_allclose(blended, 0.75 * ga + 0.25 * gb, rtol=1e-4, atol=1e-4)


def test_style_layer_weights_weigh_each_layers_loss():
    params = features.random_params(0, "block2_conv1")
    layers = ("block1_conv1", "block2_conv1")
    net = features.build_extractor(params, layers)
    rng = np.random.default_rng(5)
    style, image = (rng.uniform(0, 255, (1, 16, 16, 3)).astype(np.float32) for _ in range(2))
    grams = losses.style_grams(net, [style[0]], [1.0], layers)
    target = net(image)["block1_conv1"] * 0  # the content term is not looked at here
    no_motion = np.zeros_like(image), np.zeros((1, 16, 16, 1), np.float32)
    weights = losses.LossWeights(1.0, 1.0, 0.0, 0.0)

    def style_part(layer_weights):
        objective = losses.Objective(net, "block1_conv1", grams, weights, layer_weights)
        return float(objective(image, target, *no_motion)[1][1])

    per_layer = {name: float(losses.style_layer_loss(net(image)[name], grams[name])) for name in layers}
    assert style_part(None) == pytest.approx(np.mean(list(per_layer.values())), rel=1e-4)
    assert style_part({"block1_conv1": 1.0, "block2_conv1": 0.0}) == pytest.approx(per_layer["block1_conv1"], rel=1e-4)
    assert style_part({"block1_conv1": 1.0, "block2_conv1": 3.0}) == pytest.approx(
        0.25 * per_layer["block1_conv1"] + 0.75 * per_layer["block2_conv1"], rel=1e-4)
