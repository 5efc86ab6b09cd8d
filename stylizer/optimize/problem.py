"""What one frame is optimised against (per-frame targets) and what the optimiser returns."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


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
    # why it stopped: "budget", "converged" (the loss stalled), "reached" (as good as the goal),
    # "stalled" (no step lowered the loss, even after a restart)
    stop: str
    history: list[float] = field(default_factory=list)
    # evaluations counted in full-size equivalents (coarse-to-fine levels cost by their share of the pixels)
    work: float | None = None
    memory: tuple | None = None  # the optimiser's curvature history, to carry into the next frame
