"""The value-and-gradient call and the L-BFGS loop, on a small randomly initialised network."""

import numpy as np
import pytest

from stylizer import compute
from stylizer.errors import NumericalError
from stylizer.optimize import FrameTargets, lbfgs

@pytest.fixture(scope="module")
def problem(small_objective):
    objective, content, targets = small_objective
    return compute.make_value_and_grad(objective), content, targets.content


def test_gradient_matches_finite_differences(problem):
    vg, content, target = problem
    rng = np.random.default_rng(1)
    x = rng.uniform(20, 230, (1, *content.shape)).astype(np.float32)
    prev = rng.uniform(0, 255, x.shape).astype(np.float32)
    mask = np.ones((1, *content.shape[:2], 1), np.float32)
    _, grad, _ = vg(x, target, prev, mask)
    x64 = x.astype(np.float64)
    for idx in [(0, 3, 4, 0), (0, 8, 10, 1), (0, 15, 19, 2), (0, 0, 0, 1)]:
        h = 0.5
        plus, minus = x64.copy(), x64.copy()
        plus[idx] += h
        minus[idx] -= h
        fd = (float(vg(plus.astype(np.float32), target, prev, mask)[0])
              - float(vg(minus.astype(np.float32), target, prev, mask)[0])) / (2 * h)
        assert grad[idx] == pytest.approx(fd, rel=5e-2, abs=1e-5)


def test_lbfgs_lowers_the_loss_and_respects_the_pixel_bounds(problem):
    vg, content, target = problem
    result = lbfgs(vg, content, FrameTargets(target), iterations=15, tolerance=0)
    assert result.iterations == 15 and result.stop == "budget"
    assert result.loss < 0.8 * result.history[0]
    assert result.image.min() >= 0 and result.image.max() <= 255


def test_lbfgs_stops_when_the_loss_stops_improving(problem):
    vg, content, target = problem
    result = lbfgs(vg, content, FrameTargets(target), iterations=200, tolerance=0.05, patience=3)
    assert result.stop == "converged" and result.iterations < 200


def test_nan_in_the_loss_is_detected(problem):
    _, content, target = problem

    def broken(image, *args):
        return np.float32(np.nan), np.zeros_like(image), np.zeros(4, np.float32)

    with pytest.raises(NumericalError):
        lbfgs(broken, content, FrameTargets(target), iterations=5)


def test_early_scipy_stop_is_restarted(problem):
    """A value-and-gradient whose first evaluations mislead the line search must not end the frame early."""
    vg, content, target = problem
    calls = {"n": 0}

    def flaky(image, *args):
        calls["n"] += 1
        loss, grad, parts = vg(image, *args)
        if calls["n"] <= 3:  # a gradient pointing the wrong way: L-BFGS-B's line search fails
            grad = -grad
        return loss, grad, parts

    result = lbfgs(flaky, content, FrameTargets(target), iterations=10, tolerance=0)
    assert result.iterations >= 5
