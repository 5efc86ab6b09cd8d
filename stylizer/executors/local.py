"""The default executor: segments one after another in this process, all cores on one frame at a time."""

from __future__ import annotations

from typing import Iterable, Iterator

from stylizer.executors import Task
from stylizer.segment import FrameOutcome, run_segment


class LocalExecutor:
    workers = 1

    def __init__(self, settings, stylizer_factory, bar_for=None):
        self.settings = settings
        self.factory = stylizer_factory
        self.bar_for = bar_for
        self._stylizer = None

    def run(self, tasks: Iterable[Task]) -> Iterator[tuple[Task, FrameOutcome]]:
        for task in tasks:
            if self._stylizer is None:  # loaded only once there is work: a finished run loads nothing
                self._stylizer = self.factory()
            for outcome in run_segment(task.spec, task.frames, self._stylizer, self.settings, self.bar_for):
                yield task, outcome  # the driver records each frame before the next one is made

    def close(self) -> None:
        pass
