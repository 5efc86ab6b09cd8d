"""Projected L-BFGS in ``keras.ops``: the default optimiser, on the CPU and on a GPU alike.

Why not scipy's L-BFGS-B: every ``minimize`` call spends seconds of pure Python standardising per-pixel
bounds at 512 px (about three network evaluations' worth, paid per frame and per restart), and every
evaluation crosses to float64 on the host. Here the image, its gradient and the curvature history stay in
the backend's float32 tensors (on the accelerator when there is one); only a few scalars come back per
iteration. The two-loop recursion runs over a fixed number of history slots (empty ones weigh nothing) in one
compiled call, so it is traced once per image size.

Bounds [0, 255] are kept by projection: components at a bound that the step would push further out are
frozen, and trial points are clipped (projected L-BFGS with a backtracking Armijo line search; it reaches
the losses of L-BFGS-B on this problem, tests/test_optimize.py).
"""

from __future__ import annotations

import math

from keras import ops

from stylizer import compute
from stylizer.errors import NumericalError
from stylizer.losses import PART_NAMES
from stylizer.optimize.problem import FrameTargets, Result
from stylizer.optimize.stopping import StopRule

LOW, HIGH = 0.0, 255.0
MEMORY = 10  # curvature pairs kept, as in L-BFGS-B's default use here
ARMIJO = 1e-4
MAX_HALVINGS = 20


def _direction(x, g, s_hist, y_hist, rho):
    """-H g by Nocedal & Wright's Algorithm 7.4 over the pairs, oldest first (tuples of MEMORY flat tensors
    and their 1 / s.y); empty slots have rho = 0 and drop out. Returns the projected direction, its slope
    g.d and its largest component."""
    q = ops.reshape(g, (-1,))
    alphas = []
    for i in reversed(range(MEMORY)):
        alpha = rho[i] * ops.sum(s_hist[i] * q)
        alphas.append(alpha)
        q = q - alpha * y_hist[i]
    yy = ops.sum(y_hist[-1] * y_hist[-1])
    gamma = ops.where(rho[-1] > 0, ops.sum(s_hist[-1] * y_hist[-1]) / ops.maximum(yy, 1e-30), 1.0)
    q = q * gamma
    for i in range(MEMORY):
        beta = rho[i] * ops.sum(y_hist[i] * q)
        q = q + (alphas[MEMORY - 1 - i] - beta) * s_hist[i]
    d = -ops.reshape(q, ops.shape(x))
    pinned = ops.logical_or(ops.logical_and(x <= LOW, d < 0), ops.logical_and(x >= HIGH, d > 0))
    d = ops.where(pinned, 0.0, d)
    return d, ops.sum(g * d), ops.max(ops.abs(d))


def _trial(x, d, step, g):
    """The projected trial point and the Armijo bound's linear term g.(x_new - x)."""
    x_new = ops.clip(x + step * d, LOW, HIGH)
    return x_new, ops.sum(g * (x_new - x))


def _pair(x_new, x, g_new, g):
    """The curvature pair (s, y) of a step, its 1 / s.y, and whether to keep it (s.y clearly positive).

    The history is a tuple of separate tensors rather than one (MEMORY, n) buffer: appending a pair to a
    buffer copies all of it (15.6 ms per iteration at 512 px, 2-3% of an evaluation), to a tuple nothing."""
    s = ops.reshape(x_new - x, (-1,))
    y = ops.reshape(g_new - g, (-1,))
    sy = ops.sum(s * y)
    keep = sy > 1e-10 * ops.sqrt(ops.sum(s * s) * ops.sum(y * y))
    return s, y, 1.0 / ops.maximum(sy, 1e-30), keep


_steps: dict[str, object] = {}


def _compiled(name: str, fn):
    if name not in _steps:
        _steps[name] = compute.compile_function(fn)
    return _steps[name]


def _host(value) -> float:
    return float(ops.convert_to_numpy(value))


def _finite(value: float) -> float:
    if not math.isfinite(value):
        raise NumericalError("the loss or its gradient became NaN or infinite")
    return value


def lbfgs(value_and_grad, x0, targets: FrameTargets, rule: StopRule, progress=None, memory=None) -> Result:
    """Minimise from ``x0`` (H, W, 3) until ``rule`` says stop. ``value_and_grad`` returns backend tensors
    (``compute.make_value_and_grad(on_device=True)``).

    ``memory`` is the curvature history of an earlier run on images of this shape (``Result.memory``): a
    warm frame's objective differs from the previous frame's only by the content moving a little, so its
    curvature pairs give full-length quasi-Newton steps from the first iteration, where a fresh memory
    starts with steps of one grey level and needs several iterations to learn the scale. Pairs that do not
    fit the new objective are dropped by the usual safeguards (a non-descent direction or a failed line
    search clears the memory).

    A start that already reaches ``rule.goal`` is returned as it is, judged by the forward pass alone (no
    gradient, no evaluation counted) and with ``memory`` passed on unchanged."""
    direction = _compiled("direction", _direction)
    trial = _compiled("trial", _trial)
    pair = _compiled("pair", _pair)
    shape = x0.shape
    n = math.prod(shape)
    args = [ops.convert_to_tensor(a) for a in targets.arrays(shape)]
    x = ops.clip(ops.convert_to_tensor(x0[None], "float32"), LOW, HIGH)
    evaluations = 0

    def evaluate(image):
        nonlocal evaluations
        loss, grad, parts = value_and_grad(image, *args)
        evaluations += 1
        return _host(loss), grad, parts

    at_start = rule.goal is not None and rule.min_iterations == 0
    loss, g, parts = value_and_grad(x, *args, **({"skip_at": rule.goal.bounds()} if at_start else {}))
    f = _finite(_host(loss))
    host_parts = dict(zip(PART_NAMES, map(float, ops.convert_to_numpy(parts))))
    if g is None:  # at the goal already: kept as it is
        return Result(ops.convert_to_numpy(x)[0], f, host_parts, 0, 0, "reached", memory=memory)
    evaluations = 1

    def empty():
        zeros, zero = ops.zeros((n,)), ops.zeros(())  # tensors are immutable: the slots may share them
        return (zeros,) * MEMORY, (zeros,) * MEMORY, (zero,) * MEMORY

    s_hist, y_hist, rho, pairs = memory if memory is not None and memory[0][0].shape[0] == n else (*empty(), 0)
    # pairs: curvature pairs held; with none, the first step is scaled by hand
    restarted = False  # the gradient was evaluated afresh after a failed line search
    history: list[float] = []
    stop = rule.check(history, host_parts) if rule.min_iterations == 0 else None
    while stop is None:
        d, slope, largest = direction(x, g, s_hist, y_hist, rho)
        slope = _finite(_host(slope))
        if slope >= 0 and pairs:  # not a descent direction: forget the curvature, follow the gradient
            s_hist, y_hist, rho = empty()
            pairs = 0
            continue
        if slope >= 0:  # no descent direction at all: every free component has a zero gradient
            stop = "converged"
            break
        # A fresh memory's first step moves the largest component by one grey level; the losses are means,
        # so the raw gradient's scale says nothing about a good step.
        step = 1.0 if pairs else 1.0 / max(_host(largest), 1e-12)
        finite = False
        for _ in range(MAX_HALVINGS):
            # The step goes in as a tensor: a Python float would be traced anew for every value.
            x_new, decrease = trial(x, d, ops.convert_to_tensor(step, "float32"), g)
            f_new, g_new, parts_new = evaluate(x_new)
            finite = finite or math.isfinite(f_new)
            if math.isfinite(f_new) and f_new <= f + ARMIJO * _host(decrease):
                break
            step *= 0.5  # an overshoot into NaN is only a step too long
        else:
            if not finite:  # NaN however short the step: the objective itself is broken
                _finite(float("nan"))
            # No step lowered the loss. First forget the curvature (no re-evaluation needed); if even the
            # gradient step fails, evaluate the gradient here afresh once, as a restarted L-BFGS-B would.
            if pairs:
                s_hist, y_hist, rho = empty()
                pairs = 0
            elif not restarted:
                f, g, parts = evaluate(x)
                _finite(f)
                restarted = True
            else:
                stop = "stalled"
                break
            continue
        restarted = False
        s, y, r, kept = pair(x_new, x, g_new, g)
        if bool(ops.convert_to_numpy(kept)):  # the oldest pair makes way
            s_hist, y_hist, rho = s_hist[1:] + (s,), y_hist[1:] + (y,), rho[1:] + (r,)
            pairs = min(MEMORY, pairs + 1)
        x, f, g, parts = x_new, f_new, g_new, parts_new
        history.append(f)
        host_parts = dict(zip(PART_NAMES, map(float, ops.convert_to_numpy(parts))))
        if progress is not None:
            progress.update(1)
            progress.set_postfix(loss=f"{f:.4g}", refresh=False)
        stop = rule.check(history, host_parts)
    return Result(
        image=ops.convert_to_numpy(x)[0],
        loss=f,
        parts=host_parts,
        iterations=len(history),
        evaluations=evaluations,
        stop=stop,
        history=history,
        memory=(s_hist, y_hist, rho, pairs),
    )
