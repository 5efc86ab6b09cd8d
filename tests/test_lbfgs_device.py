"""The on-device L-BFGS reaches the same loss as scipy's L-BFGS-B (the reference path)."""

import numpy as np
import pytest

from stylizer import compute, features, losses
from stylizer.lbfgs_device import lbfgs_device
from stylizer.optimize import FrameTargets, lbfgs

LAYERS = ("block1_conv1", "block2_conv1")


@pytest.fixture(scope="module")
def objective():
    rng = np.random.default_rng(0)
    net = features.build_extractor(features.random_params(0, "block2_conv1"), LAYERS)
    style = rng.uniform(0, 255, (32, 32, 3)).astype(np.float32)
    content = rng.uniform(0, 255, (24, 28, 3)).astype(np.float32)
    grams = losses.style_grams(net, [style], [1.0], LAYERS)
    obj = losses.Objective(net, "block2_conv1", grams, losses.LossWeights(1.0, 10.0, 1.0, 50.0))
    return obj, content, FrameTargets(losses.content_target(net, content, "block2_conv1"))


def test_device_lbfgs_matches_scipy(objective):
    obj, content, targets = objective
    reference = lbfgs(compute.make_value_and_grad(obj), content, targets, iterations=40, tolerance=0)
    device = lbfgs_device(compute.make_value_and_grad(obj, on_device=True), content, targets, iterations=40,
                          tolerance=0)
    start = reference.history[0]
    assert device.loss < 0.8 * start
    assert device.loss == pytest.approx(reference.loss, rel=0.02)
    assert device.image.min() >= 0 and device.image.max() <= 255
