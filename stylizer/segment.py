"""One segment, optimised: (spec, its frames, a stylizer) -> one outcome per frame. A pure function.

It reads no files and writes none, and touches no state but the stylizer it is given: the driver decides
what a segment must make and records what comes back, so the same function runs in this process (the local
executor) or in a Ray actor on another machine. Frames arrive at working size, uint8; results leave at
working size, uint8 (finishing to the output size happens once, when outputs are written).

Inside a segment the first frame to make starts cold (coarse-to-fine) unless the frame before it is
finished (``spec.saved``); every later frame starts from the previous result warped by optical flow, stops
at the level of the segment's cold frame (``Goal``), and reuses its curvature memory. Where the view moves
(``temporal.MOVING``), a warm frame runs at least ``warm_moving_iterations`` first, and the cold frame,
which looks one frame ahead to see it, gets a longer full-size level (``multiscale.SHOT_MOVING``); where
only things in the view move (``temporal.CHANGING``), a warm frame runs at least ``warm_changing_iterations``.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator

import numpy as np

from stylizer import colour, temporal
from stylizer.colour import ColourStats
from stylizer.engine import Stylizer
from stylizer.errors import NumericalError
from stylizer.optimize import multiscale
from stylizer.settings import Settings


@dataclass(frozen=True)
class SegmentSpec:
    """What to make of the frames [first, stop) (an image is the one-frame segment [0, 1))."""

    name: str  # for messages: "frames 120-167", or an image's path
    first: int
    stop: int
    pending: frozenset[int]  # frames to make; the others are finished and only carry the chain
    saved: dict[int, np.ndarray] = field(default_factory=dict)  # finished results a pending frame starts from
    goal: dict[str, float] | None = None  # loss parts of the segment's cold frame, when it is finished
    video: bool = True  # frames of one shot (warm starts, temporal loss) rather than a single image
    colours: ColourStats | None = None  # the video's, which --preserve-colors matches the style to


@dataclass
class FrameOutcome:
    index: int
    image: np.ndarray  # working size, uint8; the unstylised content when the frame failed
    iterations: int = 0
    evaluations: int = 0
    seconds: float = 0.0
    stop: str | None = None
    parts: dict[str, float] | None = None  # loss parts as the optimiser defines them
    cold: bool = True
    failed: str | None = None  # why the frame could not be made (NaN twice)


ProgressFactory = Callable[[int, str], object]  # (iterations, label) -> a tqdm-like bar, or None


def _optimise(stylizer: Stylizer, bar_for: ProgressFactory | None, content, iterations, label, retry_iterations,
              **kwargs):
    """NaN/inf in the loss is retried once from the content image, cold, with the cold budget."""
    for attempt in range(2):
        bar = bar_for(iterations, label) if bar_for else None
        try:
            return stylizer.stylize(content, iterations, progress=bar, **kwargs)
        except NumericalError:
            if attempt == 1:
                raise
            kwargs = {"init": "content", "colours": kwargs.get("colours"), "schedule": kwargs.get("schedule")}
            iterations = retry_iterations
        finally:
            if bar is not None:
                bar.close()


def _with_next(frames: Iterable[tuple[int, np.ndarray]]) -> Iterator[tuple[tuple[int, np.ndarray], np.ndarray | None]]:
    """Each frame with the picture of the one after it (None for the last): a shot's first frame looks
    one frame ahead to see whether the view moves."""
    it = iter(frames)
    current = next(it, None)
    while current is not None:
        upcoming = next(it, None)
        yield current, None if upcoming is None else upcoming[1]
        current = upcoming


def run_segment(spec: SegmentSpec, frames: Iterable[tuple[int, np.ndarray]], stylizer: Stylizer,
                settings: Settings, bar_for: ProgressFactory | None = None) -> Iterator[FrameOutcome]:
    """Yield an outcome for each pending frame of ``spec``, in order, as soon as it is made.

    ``frames`` yields (index, content) for every index in [spec.first, spec.stop) (finished ones included:
    the optical flow to the next frame needs them)."""
    memory = None
    # (index, photo, result) of the latest frames, newest last: the chain's previous result (None after a
    # finished frame whose result is not given) and the long-term temporal loss's earlier frames. A failed
    # frame is not added, so the chain goes on from the last good result. The photos are kept as the
    # optimiser sees them (their luma under --preserve-colors luminance): a warm start follows their change.
    history: deque[tuple[int, np.ndarray, np.ndarray | None]] = deque(maxlen=max(settings.temporal_frames))
    goal_parts = spec.goal
    for (j, frame), upcoming in _with_next(frames):
        content = frame.astype(np.float32)
        photo = colour.content_for(content, settings.preserve_colors)
        if j not in spec.pending:
            saved = spec.saved.get(j)
            history.append((j, photo, None if saved is None else saved.astype(np.float32)))
            memory = None
            continue
        prev_result = history[-1][2] if history else None
        started = time.time()
        kwargs, iterations = {"colours": spec.colours}, settings.cold_iterations
        warm = spec.video and prev_result is not None and settings.temporal != "none"
        if warm:
            iterations = settings.warm_iterations
            goal = stylizer.goal(goal_parts) if goal_parts else None
            if settings.temporal == "flow":
                # The latest result, then, nearest first, the frames further back --temporal-frames names.
                last = history[-1][0]
                earlier = [(c, r) for i, c, r in reversed(history)
                           if r is not None and (i == last or j - i in settings.temporal_frames)]
                pull = temporal.temporal_target(earlier, photo)
                kwargs |= {"init": pull.init, "temporal": pull.target, "mask": pull.weights, "goal": goal,
                           "memory": memory}
                # A moved picture is not kept: its texture no longer sits where it was painted for. Nor is
                # one with things moving in it: their new pixels' start follows the photo's change. A frame
                # with both runs the larger of the two minimums.
                kwargs["min_iterations"] = max(
                    settings.warm_moving_iterations if temporal.is_moving(pull.motion, content.shape) else 0,
                    settings.warm_changing_iterations if pull.changed >= temporal.CHANGING else 0)
            else:
                kwargs |= {"init": prev_result, "goal": goal, "memory": memory}
        if spec.video and not warm:
            # A shot's first frame sets the style its warm frames hold to (their goal): longer levels than
            # an image's (a shorter full-size level left shots less stylised at the start, RESULTS.md).
            kwargs["schedule"] = multiscale.SHOT
            if upcoming is not None and temporal.is_moving(temporal.motion_between(content, upcoming), content.shape):
                # A moving view's warm frames each run several iterations, so the first frame is a small
                # part of the shot's cost; it is also the level they start from (multiscale.SHOT_MOVING).
                kwargs["schedule"] = multiscale.SHOT_MOVING
            kwargs["init"] = settings.cold_start(shot=True)
        label = f"frame {j}" if spec.video else spec.name
        try:
            result = _optimise(stylizer, bar_for, content, iterations, label, settings.cold_iterations, **kwargs)
        except NumericalError as exc:
            # The video keeps its length: the unstylised frame stands in (the driver lists it). The chain
            # goes on from the last good result, never from the stand-in (the next frame's flow then spans
            # two frames).
            yield FrameOutcome(j, np.rint(content).astype(np.uint8), seconds=time.time() - started,
                               cold=not warm, failed=str(exc))
            continue
        if not warm and goal_parts is None:
            goal_parts = result.parts
        yield FrameOutcome(j, np.clip(np.rint(result.image), 0, 255).astype(np.uint8), result.iterations,
                           result.evaluations, time.time() - started, result.stop, result.parts, cold=not warm)
        memory = result.memory
        history.append((j, photo, result.image))
