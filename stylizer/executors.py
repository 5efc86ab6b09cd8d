"""Executors run a plan's segments. Segments are independent, so another executor (a process pool, a
cluster) can run the same list without changing the planner or the per-segment work."""

from __future__ import annotations

from typing import Callable, Iterable, TypeVar

S = TypeVar("S")


class LocalExecutor:
    """Runs segments one after another in this process: one model in memory, all cores on one frame."""

    def __init__(self, on_done: Callable[[S], None] = lambda _: None):
        self.on_done = on_done

    def run(self, segments: Iterable[S], work: Callable[[S], None]) -> None:
        for segment in segments:
            work(segment)
            self.on_done(segment)
