"""When a frame is done.

A cold frame (an image, a shot's first frame) runs until its budget or until the loss stalls. A warm frame
starts next to the answer, so its budget is only a cap: it stops as soon as the picture is as good as the
shot's converged cold frame (``Goal``), measured by the losses that describe the picture (content, style,
total variation) and not by the temporal term, which only says how close it is to the previous frame.
A frame still far from that level (new content entering the view, fast motion) keeps going, up to the cap
or until it stops gaining: where the temporal term holds it away from the goal, it creeps towards it by
tenths of a percent an iteration, so a warm frame stalls at a coarser tolerance than a cold one
(``Settings.warm_tolerance``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping


@dataclass(frozen=True)
class Goal:
    """The level of a converged cold frame; ``margin`` is the relative slack a warm frame may stop at."""

    content: float
    style: float
    tv: float
    weights: tuple[float, float, float]  # content, style and tv weights of the run
    margin: float

    @classmethod
    def from_parts(cls, parts: Mapping[str, float], weights: tuple[float, float, float], margin: float) -> "Goal":
        return cls(parts["content"], parts["style"], parts["tv"], weights, margin)

    def picture(self, parts: Mapping[str, float]) -> float:
        """The cold frame's own objective: the weighted loss without the temporal term."""
        wc, ws, wtv = self.weights
        return wc * parts["content"] + ws * parts["style"] + wtv * parts["tv"]

    def bounds(self) -> tuple[float, float, float, float, float]:
        """The goal as five numbers a compiled call can test before it takes a gradient
        (``compute.make_value_and_grad``'s ``skip_at``): the content, style and TV weights, the most the
        weighted picture may cost, and the most its style term may."""
        slack = 1.0 + self.margin
        level = self.picture({"content": self.content, "style": self.style, "tv": self.tv})
        return (*self.weights, slack * level, slack * self.style)

    def reached(self, parts: Mapping[str, float]) -> bool:
        # Both the whole picture and its style alone: a frame that trades style for content (new content
        # left unstylised) is not done even when the weighted sum looks good.
        *_, picture, style = self.bounds()
        return self.picture(parts) <= picture and parts["style"] <= style


@dataclass(frozen=True)
class StopRule:
    iterations: int  # the budget (cold frames) or the cap (warm frames)
    tolerance: float = 1e-3  # stalled: relative improvement below this over `patience` iterations
    patience: int = 5
    goal: Goal | None = None
    min_iterations: int = 0

    def check(self, history: list[float], parts: Mapping[str, float]) -> str | None:
        """Why to stop after ``len(history)`` iterations (``history``: loss after each), or None."""
        done = len(history)
        if done >= self.iterations:
            return "budget"
        if done < self.min_iterations:
            return None
        if self.goal is not None and parts and self.goal.reached(parts):
            return "reached"
        if done > self.patience:
            before = history[-1 - self.patience]
            if before - history[-1] < self.tolerance * abs(before):
                return "converged"
        return None
