"""The value-and-gradient call and the L-BFGS loops, on a small randomly initialised network."""

import numpy as np
import pytest

from stylizer import compute
from stylizer.errors import NumericalError
from stylizer.optimize import FrameTargets, Goal, StopRule, lbfgs, lbfgsb_scipy, multiscale

OPTIMISERS = {"lbfgs": (lbfgs, True), "scipy": (lbfgsb_scipy, False)}


@pytest.fixture(scope="module")
def problem(small_objective):
    objective, content, targets = small_objective
    return objective, content, targets.content


def value_and_grad(objective, name):
    return compute.make_value_and_grad(objective, on_device=OPTIMISERS[name][1])


def test_gradient_matches_finite_differences(problem):
    objective, content, target = problem
    vg = compute.make_value_and_grad(objective)
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


def test_the_forward_only_call_gives_the_losses_of_the_value_and_gradient_call(problem):
    objective, content, target = problem
    args = FrameTargets(target).arrays(content.shape)
    x = np.clip(content[None] + 40, 0, 255).astype(np.float32)
    loss, _, parts = compute.make_value_and_grad(objective)(x, *args)
    forward_loss, forward_parts = compute.forward_only(compute.make_value_and_grad(objective))(x, *args)
    assert forward_loss == pytest.approx(float(loss), rel=1e-5)
    np.testing.assert_allclose(forward_parts, parts, rtol=1e-5)


@pytest.mark.parametrize("name", OPTIMISERS)
def test_lowers_the_loss_and_respects_the_pixel_bounds(problem, name):
    objective, content, target = problem
    optimise = OPTIMISERS[name][0]
    result = optimise(value_and_grad(objective, name), content, FrameTargets(target), StopRule(15, tolerance=0))
    assert result.iterations == 15 and result.stop == "budget"
    assert result.loss < 0.8 * result.history[0]
    assert result.image.min() >= 0 and result.image.max() <= 255


@pytest.mark.parametrize("name", OPTIMISERS)
def test_stops_when_the_loss_stops_improving(problem, name):
    objective, content, target = problem
    optimise = OPTIMISERS[name][0]
    result = optimise(value_and_grad(objective, name), content, FrameTargets(target),
                      StopRule(200, tolerance=0.05, patience=3))
    assert result.stop == "converged" and result.iterations < 200


def test_projected_lbfgs_matches_scipy(problem):
    """The default optimiser reaches the reference's loss for the same number of iterations."""
    objective, content, target = problem
    rule = StopRule(40, tolerance=0)
    reference = lbfgsb_scipy(value_and_grad(objective, "scipy"), content, FrameTargets(target), rule)
    ours = lbfgs(value_and_grad(objective, "lbfgs"), content, FrameTargets(target), rule)
    assert ours.loss < 0.8 * reference.history[0]
    assert ours.loss == pytest.approx(reference.loss, rel=0.02)
    # about one evaluation per iteration: the line search rarely needs a second trial
    assert ours.evaluations <= 1.3 * ours.iterations + 2


@pytest.mark.parametrize("name", OPTIMISERS)
def test_nan_in_the_loss_is_detected(problem, name):
    _, content, target = problem

    def broken(image, *args):
        return np.float32(np.nan), np.zeros_like(image), np.zeros(4, np.float32)

    with pytest.raises(NumericalError):
        OPTIMISERS[name][0](broken, content, FrameTargets(target), StopRule(5))


@pytest.mark.parametrize("name", OPTIMISERS)
def test_a_misleading_start_is_restarted(problem, name):
    """A value-and-gradient whose first evaluations mislead the line search must not end the frame early."""
    objective, content, target = problem
    vg = value_and_grad(objective, name)
    calls = {"n": 0}

    def flaky(image, *args):
        calls["n"] += 1
        loss, grad, parts = vg(image, *args)
        if calls["n"] <= 3:  # a gradient pointing the wrong way: the line search fails
            grad = -grad
        return loss, grad, parts

    result = OPTIMISERS[name][0](flaky, content, FrameTargets(target), StopRule(10, tolerance=0))
    assert result.iterations >= 5


@pytest.mark.parametrize("name", OPTIMISERS)
def test_a_warm_frame_stops_at_the_goal_and_not_before(problem, name):
    """Goal: the level a converged run reached. A start near it stops within a few iterations; a start far
    from it keeps going past them."""
    objective, content, target = problem
    optimise = OPTIMISERS[name][0]
    vg = value_and_grad(objective, name)
    cold = optimise(vg, content, FrameTargets(target), StopRule(60, tolerance=0))
    goal = Goal.from_parts(cold.parts, (1.0, 10.0, 1.0), margin=0.05)
    near = optimise(vg, cold.image, FrameTargets(target), StopRule(40, tolerance=0, goal=goal, min_iterations=1))
    far = optimise(vg, content, FrameTargets(target), StopRule(40, tolerance=0, goal=goal, min_iterations=1))
    assert near.stop == "reached" and near.iterations <= 3
    assert goal.reached(near.parts)
    assert far.iterations >= 8 and far.iterations > 2 * near.iterations


@pytest.mark.parametrize("on_device", [False, True])
def test_a_met_goal_skips_the_gradient_and_an_unmet_one_changes_nothing(problem, on_device):
    """``skip_at``: the compiled call tests the goal on its own forward pass. Met, it returns no gradient;
    not met, the gradient is the plain call's."""
    objective, content, target = problem
    vg = compute.make_value_and_grad(objective, on_device=on_device)
    args = FrameTargets(target).arrays(content.shape)
    x = np.clip(content[None] + 40, 0, 255).astype(np.float32)
    loss, grad, parts = vg(x, *args)
    parts = dict(zip(("content", "style", "tv"), map(float, np.asarray(parts))))
    exact = Goal.from_parts(parts, (1.0, 10.0, 1.0), margin=0.01)
    assert exact.reached(parts)
    met = vg(x, *args, skip_at=exact.bounds())
    assert met[1] is None and float(met[0]) == pytest.approx(float(loss), rel=1e-6)
    harder = Goal.from_parts({k: 0.9 * v for k, v in parts.items()}, (1.0, 10.0, 1.0), margin=0.01)
    assert not harder.reached(parts)
    unmet = vg(x, *args, skip_at=harder.bounds())
    np.testing.assert_allclose(np.asarray(unmet[1]), np.asarray(grad), rtol=1e-5, atol=1e-12)
    # The style bound alone also decides: a picture as costly overall but less stylised is not done.
    style_only = Goal(parts["content"] * 2, parts["style"] * 0.9, parts["tv"], (1.0, 10.0, 1.0), margin=0.01)
    assert not style_only.reached(parts) and vg(x, *args, skip_at=style_only.bounds())[1] is not None


@pytest.mark.parametrize("name", OPTIMISERS)
def test_a_start_at_the_goal_is_kept_as_it_is(problem, name):
    """A warm start that already reaches the goal costs no gradient: returned unchanged, no iteration and no
    evaluation. One that does not is optimised, its first evaluation counted once."""
    objective, content, target = problem
    optimise = OPTIMISERS[name][0]
    vg = value_and_grad(objective, name)
    cold = optimise(vg, content, FrameTargets(target), StopRule(30, tolerance=0))
    goal = Goal.from_parts(cold.parts, (1.0, 10.0, 1.0), margin=0.05)
    kept = optimise(vg, cold.image, FrameTargets(target), StopRule(40, tolerance=0, goal=goal))
    assert (kept.stop, kept.iterations, kept.evaluations) == ("reached", 0, 0)
    np.testing.assert_array_equal(kept.image, cold.image)
    calls = {"n": 0}

    def counted(*args, **kwargs):
        calls["n"] += 1
        return vg(*args, **kwargs)

    far = optimise(counted, content, FrameTargets(target), StopRule(40, tolerance=0, goal=goal))
    assert far.iterations > 0 and far.evaluations == calls["n"]


def test_goal_needs_the_style_as_well_as_the_whole_picture():
    goal = Goal(content=0.5, style=0.05, tv=0.01, weights=(1.0, 10.0, 1.0), margin=0.05)
    assert goal.reached({"content": 0.5, "style": 0.05, "tv": 0.01})
    # a lower weighted sum bought with a worse style is not done
    assert not goal.reached({"content": 0.2, "style": 0.06, "tv": 0.01})
    assert not goal.reached({"content": 0.6, "style": 0.05, "tv": 0.01})


def test_coarse_to_fine_levels():
    # An image gets one coarser level, with half the share once that level is 256 px or more.
    assert multiscale.levels(384, 512, 100) == [((192, 256), 5), ((384, 512), 48)]
    assert multiscale.levels(1080, 1920, 100) == [((540, 960), 5), ((1080, 1920), 48)]
    # Below twice MIN_SIDE the coarser level is MIN_SIDE itself, while it is at least MIN_STEP times smaller.
    assert multiscale.levels(144, 192, 100) == [((96, 128), 10), ((144, 192), 48)]
    assert multiscale.levels(90, 160, 100) == [((90, 160), 100)]  # too small for a coarser level
    # Larger pictures halve, and stop before a level under MIN_SIDE.
    assert multiscale.levels(288, 384, 100) == [((144, 192), 10), ((288, 384), 48)]
    # A shot's first frame: a longer coarse and full-size level.
    assert multiscale.levels(288, 384, 100, schedule=multiscale.SHOT) == [((144, 192), 25), ((288, 384), 50)]
    # It keeps up to two coarser levels, each with the same share.
    assert multiscale.levels(384, 512, 100, schedule=multiscale.SHOT) == [
        ((96, 128), 25), ((192, 256), 25), ((384, 512), 50)]
    # Under twice MIN_SIDE it gets no coarser level at MIN_SIDE, and a shorter single full-size level.
    assert multiscale.levels(144, 192, 100, schedule=multiscale.SHOT) == [((144, 192), 60)]
    assert multiscale.levels(90, 160, 100, schedule=multiscale.SHOT) == [((90, 160), 60)]
    assert multiscale.levels(144, 192, 100, enabled=False, schedule=multiscale.SHOT) == [((144, 192), 100)]
    assert multiscale.levels(384, 512, 100, enabled=False) == [((384, 512), 100)]


def test_carried_memory_makes_the_first_steps_count(problem):
    """The previous frame's curvature pairs make a warm frame's first steps full quasi-Newton steps: after
    three iterations from a perturbed start it is further down than with a fresh memory."""
    objective, content, target = problem
    vg = value_and_grad(objective, "lbfgs")
    cold = lbfgs(vg, content, FrameTargets(target), StopRule(60, tolerance=0))
    start = np.clip(cold.image + np.random.default_rng(2).normal(0, 8, cold.image.shape), 0, 255).astype(np.float32)
    rule = StopRule(3, tolerance=0)
    fresh = lbfgs(vg, start, FrameTargets(target), rule)
    carried = lbfgs(vg, start, FrameTargets(target), rule, memory=cold.memory)
    assert carried.iterations == fresh.iterations == 3
    assert carried.loss < fresh.loss, (carried.history, fresh.history)
