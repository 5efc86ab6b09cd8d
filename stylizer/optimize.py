"""The L-BFGS loop: scipy's L-BFGS-B drives one compiled value-and-gradient call per evaluation.

float32 inside the network, float64 only at the scipy boundary; the pixel range [0, 255] is enforced by
L-BFGS-B's bounds instead of clipping afterwards (clipping would move the image off the optimiser's path).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import Bounds, minimize
from threadpoolctl import threadpool_limits

from stylizer.compute import ValueAndGrad
from stylizer.errors import NumericalError
from stylizer.losses import PART_NAMES


@dataclass
class FrameTargets:
    """What changes from frame to frame: the content features and, for warm frames, the temporal term."""

    content: np.ndarray  # features of the content image at the content layer, (1, h, w, c)
    temporal: np.ndarray | None = None  # warped previous result, (H, W, 3) in [0, 255]
    mask: np.ndarray | None = None  # reliability of `temporal`, (H, W) in [0, 1]

    def arrays(self, shape: tuple[int, int, int]):
        h, w, _ = shape
        if self.temporal is None:
            # A zero mask switches the temporal term off without changing the compiled graph.
            return self.content, np.zeros((1, h, w, 3), np.float32), np.zeros((1, h, w, 1), np.float32)
        mask = np.ones((h, w), np.float32) if self.mask is None else self.mask
        return (self.content, self.temporal[None].astype(np.float32),
                mask[None, :, :, None].astype(np.float32))


@dataclass
class Result:
    image: np.ndarray  # (H, W, 3) float32 in [0, 255]
    loss: float
    parts: dict[str, float]
    iterations: int
    evaluations: int
    stop: str  # why it stopped: "budget", "converged", "stalled" (scipy gave up and restarts did not help)
    history: list[float] = field(default_factory=list)


def lbfgs(
    value_and_grad: ValueAndGrad,
    x0: np.ndarray,
    targets: FrameTargets,
    iterations: int,
    tolerance: float = 1e-3,
    patience: int = 5,
    progress=None,
    max_restarts: int = 2,
) -> Result:
    """Minimise from ``x0`` for at most ``iterations`` L-BFGS iterations.

    Stops early when the loss improved by less than ``tolerance`` (relative) over the last ``patience``
    iterations. When L-BFGS-B itself gives up early (a failed line search, or a warm start so close to a
    minimum of the previous frame that its first steps look converged, a known failure of other tools), it
    is restarted from the current image with a fresh memory, at most ``max_restarts`` times.
    """
    shape = x0.shape
    args = targets.arrays(shape)
    evaluations = 0
    # The losses are means, so each pixel's gradient shrinks as 1/(number of pixels). L-BFGS-B takes its
    # first step along the raw gradient when every variable is bounded, which at 512 px moves the image by
    # ~1e-4 grey levels: a change the float32 loss cannot resolve, and the line search gives up at once.
    # Scaling by the number of values makes the gradient, and that first step, independent of image size.
    scale = float(np.prod(shape))
    parts_at: dict[float, np.ndarray] = {}  # scaled loss -> its parts, for the point L-BFGS-B returns

    def fun(x64: np.ndarray):
        nonlocal evaluations
        image = x64.astype(np.float32).reshape((1, *shape))
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
    stop = "budget"

    def callback(intermediate_result):
        nonlocal stop
        loss = float(intermediate_result.fun) / scale
        history.append(loss)
        if progress is not None:
            progress.update(1)
            progress.set_postfix(loss=f"{loss:.4g}", refresh=False)
        if len(history) > patience:
            before = history[-1 - patience]
            if before - loss < tolerance * abs(before):
                stop = "converged"
                raise StopIteration  # scipy ends the run and returns the current point

    # L-BFGS-B only accepts points that lower the loss, so the point it returns is the best one seen.
    x = np.clip(x0, 0, 255).astype(np.float64).ravel()
    res = None
    restarts = 0
    bounds = Bounds(0.0, 255.0)
    while len(history) < iterations and stop != "converged":
        done_before = len(history)
        # L-BFGS-B's vector operations are tiny next to an evaluation, but OpenBLAS's threads keep spinning
        # after each of them and take the cores from the network's next evaluation: 1.22x the bare call per
        # evaluation at 256 px with them, 1.04x with one BLAS thread (benchmarks/RESULTS.md).
        with threadpool_limits(limits=1, user_api="blas"):
            res = minimize(fun, x, jac=True, method="L-BFGS-B", bounds=bounds, callback=callback,
                           options={"maxiter": iterations - done_before, "maxcor": 10, "ftol": 0.0, "gtol": 0.0})
        x = res.x
        if len(history) >= iterations or stop == "converged":
            break
        # scipy stopped before the budget: restart with fresh curvature memory unless that stopped helping.
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
