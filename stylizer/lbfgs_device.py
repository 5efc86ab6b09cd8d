"""L-BFGS with its state on the accelerator: the two-loop recursion in ``keras.ops``.

scipy's L-BFGS-B (``stylizer.optimize``) is the reference; it runs on the host, so on a GPU every evaluation
copies the image and its gradient across the bus and converts them to float64. Here the image, the gradient
and the curvature pairs stay on the device; only the loss (one scalar) comes back per evaluation. Bounds are
handled by projection onto [0, 255] (projected L-BFGS with a backtracking Armijo line search), a simpler
scheme than L-BFGS-B's Cauchy point that reaches the same losses on this problem (tests/test_lbfgs_device.py).
"""

from __future__ import annotations

from keras import ops

from stylizer.errors import NumericalError
from stylizer.losses import PART_NAMES
from stylizer.optimize import FrameTargets, Result

LOW, HIGH = 0.0, 255.0


def _dot(a, b) -> float:
    return float(ops.convert_to_numpy(ops.sum(a * b)))


def _two_loop(grad, pairs: list):
    """Nocedal & Wright, Algorithm 7.4: H_k * grad from the stored (s, y, 1/(y.s)) pairs, without a host sync."""
    q = grad
    alphas = []
    for s, y, rho in reversed(pairs):
        alpha = rho * ops.sum(s * q)
        alphas.append(alpha)
        q = q - alpha * y
    if pairs:
        s, y, _ = pairs[-1]
        q = q * (ops.sum(s * y) / ops.sum(y * y))  # initial Hessian scaling gamma_k
    for (s, y, rho), alpha in zip(pairs, reversed(alphas)):
        beta = rho * ops.sum(y * q)
        q = q + (alpha - beta) * s
    return q


def lbfgs_device(value_and_grad, x0, targets: FrameTargets, iterations: int, tolerance: float = 1e-3,
                 patience: int = 5, memory: int = 10, progress=None) -> Result:
    """Same contract as ``optimize.lbfgs``; ``value_and_grad`` returns backend tensors (compute.make_value_and_grad
    with ``on_device=True``)."""
    shape = x0.shape
    args = [ops.convert_to_tensor(a) for a in targets.arrays(shape)]
    x = ops.clip(ops.convert_to_tensor(x0[None], "float32"), LOW, HIGH)
    evaluations = 0

    def evaluate(image):
        nonlocal evaluations
        loss, grad, parts = value_and_grad(image, *args)
        evaluations += 1
        value = float(ops.convert_to_numpy(loss))
        if value != value or value in (float("inf"), float("-inf")):
            raise NumericalError("the loss or its gradient became NaN or infinite")
        return value, grad, parts

    f, g, parts = evaluate(x)
    pairs: list = []
    history: list[float] = []
    stop = "budget"
    for _ in range(iterations):
        direction = -_two_loop(g, pairs)
        # Components pinned at a bound that the step would push further out are frozen (projection).
        pinned = ops.logical_or(ops.logical_and(x <= LOW, direction < 0), ops.logical_and(x >= HIGH, direction > 0))
        direction = ops.where(pinned, 0.0, direction)
        slope = _dot(g, direction)
        if slope >= 0:  # not a descent direction: forget the curvature and follow the gradient
            pairs.clear()
            direction = ops.where(pinned, 0.0, -g)
            slope = _dot(g, direction)
        # First step of a fresh memory: scale so it moves pixels by about one grey level.
        step = 1.0 if pairs else 1.0 / max(float(ops.convert_to_numpy(ops.max(ops.abs(direction)))), 1e-12)
        for _ in range(20):
            x_new = ops.clip(x + step * direction, LOW, HIGH)
            f_new, g_new, parts_new = evaluate(x_new)
            if f_new <= f + 1e-4 * _dot(g, x_new - x):
                break
            step *= 0.5
        else:
            stop = "stalled"
            break
        s, y = x_new - x, g_new - g
        sy = _dot(s, y)
        if sy > 1e-10:
            pairs.append((s, y, 1.0 / sy))
            if len(pairs) > memory:
                pairs.pop(0)
        x, f, g, parts = x_new, f_new, g_new, parts_new
        history.append(f)
        if progress is not None:
            progress.update(1)
            progress.set_postfix(loss=f"{f:.4g}", refresh=False)
        if len(history) > patience and history[-1 - patience] - f < tolerance * abs(history[-1 - patience]):
            stop = "converged"
            break
    return Result(
        image=ops.convert_to_numpy(x)[0],
        loss=f,
        parts=dict(zip(PART_NAMES, map(float, ops.convert_to_numpy(parts)))),
        iterations=len(history),
        evaluations=evaluations,
        stop=stop,
        history=history,
    )
