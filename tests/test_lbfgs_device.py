"""The on-device L-BFGS reaches the same loss as scipy's L-BFGS-B (the reference path)."""

import pytest

from stylizer import compute
from stylizer.lbfgs_device import lbfgs_device
from stylizer.optimize import lbfgs


def test_device_lbfgs_matches_scipy(small_objective):
    obj, content, targets = small_objective
    reference = lbfgs(compute.make_value_and_grad(obj), content, targets, iterations=40, tolerance=0)
    device = lbfgs_device(compute.make_value_and_grad(obj, on_device=True), content, targets, iterations=40,
                          tolerance=0)
    start = reference.history[0]
    assert device.loss < 0.8 * start
    assert device.loss == pytest.approx(reference.loss, rel=0.02)
    assert device.image.min() >= 0 and device.image.max() <= 255
