"""Optimising one image: the problem (targets, result, when to stop), the L-BFGS loops, coarse-to-fine.

    problem.py       what a frame is optimised against and what comes back
    stopping.py      when a frame is done: budget, stall, or as good as the shot's cold frame
    lbfgs.py         projected L-BFGS in keras.ops (the default): compiled steps, no host round trips
    lbfgsb_scipy.py  scipy's L-BFGS-B, the reference it is measured against
    multiscale.py    coarse-to-fine schedule for cold frames and images
"""

from stylizer.optimize.lbfgs import lbfgs
from stylizer.optimize.lbfgsb_scipy import lbfgsb_scipy
from stylizer.optimize.problem import FrameTargets, Result
from stylizer.optimize.stopping import Goal, StopRule

__all__ = ["FrameTargets", "Goal", "Result", "StopRule", "lbfgs", "lbfgsb_scipy"]
