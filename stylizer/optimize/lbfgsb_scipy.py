"""scipy's L-BFGS-B driving the compiled value-and-gradient call: the reference the default is measured
against (``--optimizer scipy``).

float32 inside the network, float64 only at the scipy boundary; the pixel range [0, 255] is enforced by
L-BFGS-B's bounds.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import Bounds, minimize
from threadpoolctl import threadpool_limits

from stylizer.compute import ValueAndGrad
from stylizer.errors import NumericalError
from stylizer.losses import PART_NAMES
from stylizer.optimize.problem import FrameTargets, Result
from stylizer.optimize.stopping import StopRule


def lbfgsb_scipy(value_and_grad: ValueAndGrad, x0: np.ndarray, targets: FrameTargets, rule: StopRule,
                 progress=None, max_restarts: int = 2) -> Result:
    """Minimise from ``x0`` until ``rule`` says stop. When L-BFGS-B itself gives up early (a failed line
    search, or a warm start so close to a minimum of the previous frame that its first steps look
    converged), it is restarted from the current image with a fresh memory, at most ``max_restarts`` times.
    ``value_and_grad`` returns numpy arrays. A start that already reaches ``rule.goal`` is returned as it
    is, judged by the forward pass alone."""
    shape = x0.shape
    args = targets.arrays(shape)
    evaluations = 0
    start = np.clip(x0, 0, 255).astype(np.float32)
    first = None  # the start's evaluation, made before scipy asks for it
    if rule.goal is not None and rule.min_iterations == 0:
        loss, grad, parts = value_and_grad(start[None], *args, skip_at=rule.goal.bounds())
        if not np.isfinite(loss):
            raise NumericalError("the loss or its gradient became NaN or infinite")
        if grad is None:
            return Result(start, float(loss), dict(zip(PART_NAMES, map(float, parts))), 0, 0, "reached")
        first = loss, grad, parts
    # The losses are means, so each pixel's gradient shrinks as 1/(number of pixels). L-BFGS-B takes its
    # first step along the raw gradient when every variable is bounded, which at 512 px moves the image by
    # ~1e-4 grey levels: a change the float32 loss cannot resolve, and the line search gives up at once.
    # Scaling by the number of values makes the gradient, and that first step, independent of image size.
    scale = float(np.prod(shape))
    parts_at: dict[float, np.ndarray] = {}  # scaled loss -> its parts, for the point L-BFGS-B returns

    def fun(x64: np.ndarray):
        nonlocal evaluations, first
        image = x64.astype(np.float32).reshape((1, *shape))
        if first is not None and np.array_equal(image[0], start):
            (loss, grad, parts), first = first, None
        else:
            loss, grad, parts = value_and_grad(image, *args)
        evaluations += 1
        if not (np.isfinite(loss) and np.all(np.isfinite(grad))):
            raise NumericalError("the loss or its gradient became NaN or infinite")
        scaled = float(loss) * scale
        if len(parts_at) > 64:
            parts_at.clear()
        parts_at[scaled] = parts
        return scaled, np.multiply(grad.ravel(), scale, dtype=np.float64)

    history: list[float] = []
    stop = None

    def callback(intermediate_result):
        nonlocal stop
        loss = float(intermediate_result.fun) / scale
        history.append(loss)
        if progress is not None:
            progress.update(1)
            progress.set_postfix(loss=f"{loss:.4g}", refresh=False)
        parts = parts_at.get(float(intermediate_result.fun))
        stop = rule.check(history, dict(zip(PART_NAMES, map(float, parts))) if parts is not None else {})
        if stop is not None:
            raise StopIteration  # scipy ends the run and returns the current point

    # L-BFGS-B only accepts points that lower the loss, so the point it returns is the best one seen.
    x = start.astype(np.float64).ravel()
    res = None
    restarts = 0
    bounds = Bounds(0.0, 255.0)
    while stop is None:
        done_before = len(history)
        # L-BFGS-B's vector operations are tiny next to an evaluation, but OpenBLAS's threads keep spinning
        # after each of them and take the cores from the network's next evaluation: 1.22x the bare call per
        # evaluation at 256 px with them, 1.04x with one BLAS thread (benchmarks/RESULTS.md).
        with threadpool_limits(limits=1, user_api="blas"):
            res = minimize(fun, x, jac=True, method="L-BFGS-B", bounds=bounds, callback=callback,
                           options={"maxiter": rule.iterations - done_before, "maxcor": 10, "ftol": 0.0,
                                    "gtol": 0.0})
        x = res.x
        if stop is not None:
            break
        # scipy stopped before the rule did: restart with fresh curvature memory unless that stopped helping.
        made_progress = len(history) > done_before
        if restarts >= max_restarts or not made_progress and restarts > 0:
            stop = "stalled"
            break
        restarts += 1
    if res is None or res.fun not in parts_at:  # no iteration ran: describe the starting point
        fun(x)
        scaled = next(reversed(parts_at))
    else:
        scaled = float(res.fun)
    return Result(
        image=x.reshape(shape).astype(np.float32),
        loss=scaled / scale,
        parts=dict(zip(PART_NAMES, map(float, parts_at[scaled]))),
        iterations=len(history),
        evaluations=evaluations,
        stop=stop,
        history=history,
    )
