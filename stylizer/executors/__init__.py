"""Executors run segments and hand back their outcomes as they come; they own nothing durable.

The driver gives an executor a stream of ``Task`` (a segment's spec and its frames) and records every
``FrameOutcome`` it yields. ``local`` (the default) runs them in this process, one after another, with the
network loaded once; ``ray`` spreads them over the actors of a Ray cluster (``executors/ray.py``, imported
only when asked for).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Protocol

import numpy as np

from stylizer.segment import FrameOutcome, SegmentSpec

EXECUTORS = ("local", "ray")


@dataclass
class Task:
    spec: SegmentSpec
    frames: Iterable[tuple[int, np.ndarray]]  # (index, content at working size, uint8) for [first, stop)
    context: Any = None  # the driver's own bookkeeping for this task; executors pass it through


class Executor(Protocol):
    workers: int  # segments it can run at once (the planner chunks long shots when this is over 1)

    def run(self, tasks: Iterable[Task]) -> Iterator[tuple[Task, FrameOutcome]]:
        """Outcomes in completion order; every pending frame of every task gets exactly one."""

    def close(self) -> None:
        ...


def make_executor(name: str, settings, styles, stylizer_factory, bar_for, workers: int | None = None) -> Executor:
    if name == "ray":
        from stylizer.executors.ray import RayExecutor

        return RayExecutor(settings, styles, workers)
    from stylizer.executors.local import LocalExecutor

    return LocalExecutor(settings, stylizer_factory, bar_for)
