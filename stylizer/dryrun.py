"""--dry-run: what a run would do (items, frames, shots, segments, disk) and about how long, without doing it.

Nothing is written: a video is scanned (or its cached plan read), a folder listed. The time comes from a
short measurement: two evaluations of the real network at the working size, times the evaluations the
budgets allow (a cold frame's coarse-to-fine levels counted at their size). Warm frames stop once they reach
their shot's first frame (most take a fraction of their cap), so the video estimate is a range: every warm
frame at --warm-min-iterations up to every warm frame at its cap.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import numpy as np

from stylizer.engine import working_shape
from stylizer.optimize import FrameTargets, multiscale
from stylizer.settings import Settings


def _seconds_per_evaluation(stylizer, shape: tuple[int, int]) -> float:
    content = np.full((*shape, 3), 127.0, np.float32)
    evaluate = stylizer.value_and_grad(shape)
    args = FrameTargets(stylizer.content_target(content)).arrays(content.shape)
    evaluate(content[None], *args)  # traced and compiled once: not part of a run's steady cost
    start = time.perf_counter()
    for _ in range(2):
        loss = evaluate(content[None], *args)[0]
        float(np.asarray(loss))
    return (time.perf_counter() - start) / 2


def _cold_work(settings: Settings, shape: tuple[int, int], schedule: multiscale.Schedule | None = None) -> float:
    """Full-size evaluations' worth of a cold frame (coarse levels at their share of the pixels);
    ``schedule`` as for multiscale.levels (None: an image's)."""
    full = shape[0] * shape[1]
    return sum(budget * h * w / full for (h, w), budget in
               multiscale.levels(*shape, settings.cold_iterations, settings.coarse_to_fine, schedule))


def _free(path: Path) -> int | None:
    for folder in (path, *path.parents):
        if folder.exists():
            return shutil.disk_usage(folder).free
    return None


def _duration(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h" if seconds >= 5400 else f"{seconds / 60:.0f} min" if seconds >= 90 \
        else f"{seconds:.0f} s"


def describe_video(settings: Settings, source: Path, out: Path, stylizer_factory) -> list[str]:
    from stylizer.plan import plan_video

    plan = plan_video(source, settings, settings.quiet)
    info = plan.info
    shape = working_shape(info.height, info.width, settings.size)
    shots = len(plan.cuts) + 1
    needed = plan.frames * shape[0] * shape[1] * 3
    free = _free(out.parent)
    lines = [f"{source}: {plan.frames} frames ({info.width}x{info.height}, {float(info.fps):.3f} fps) in {shots} "
             f"shot{'s' if shots > 1 else ''}" + (f" (cuts at {', '.join(map(str, plan.cuts))})" if plan.cuts else ""),
             f"working size {shape[1]}x{shape[0]}; work frames need about {needed / 2**20:.0f} MiB"
             + (f" ({free / 2**20:.0f} MiB free)" if free is not None else "")]
    each = _seconds_per_evaluation(stylizer_factory(), shape)
    # A still view's first frame at the low end, a moving view's (a longer full-size level) at the high.
    cold = [shots * _cold_work(settings, shape, schedule) * each
            for schedule in (multiscale.SHOT, multiscale.SHOT_MOVING)]
    warm = plan.frames - shots
    low = cold[0] + warm * max(1, settings.warm_min_iterations) * each
    high = cold[1] + warm * settings.warm_iterations * each
    lines.append(f"about {each:.2f} s per evaluation here: {_duration(low)} to {_duration(high)} "
                 f"({shots} cold frame{'s' if shots > 1 else ''} of {settings.cold_iterations} iterations, "
                 f"{warm} warm frames of 1 to {settings.warm_iterations})")
    return lines


def describe_images(settings: Settings, sources: list[Path], targets: list[Path], stylizer_factory) -> list[str]:
    from PIL import Image

    todo, shapes, unreadable = 0, [], 0
    for source, target in zip(sources, targets):
        if target.exists() and not settings.force:
            continue
        todo += 1
        try:
            with Image.open(source) as im:
                width, height = im.size
        except Exception:  # noqa: BLE001  (any decoder error: the run would list it as failed)
            unreadable += 1
            continue
        shapes.append(working_shape(height, width, settings.size))
    lines = [f"{len(sources)} images: {todo} to make, {len(sources) - todo} already finished"
             + (f", {unreadable} unreadable" if unreadable else "")]
    if shapes:
        pixels = [h * w for h, w in shapes]
        shape = shapes[int(np.argsort(pixels)[len(pixels) // 2])]
        each = _seconds_per_evaluation(stylizer_factory(), shape)
        total = sum(_cold_work(settings, s) * each * (s[0] * s[1]) / (shape[0] * shape[1]) for s in shapes)
        lines.append(f"about {each:.2f} s per evaluation at {shape[1]}x{shape[0]} (the median image): about "
                     f"{_duration(total)} for {len(shapes)} images of {settings.cold_iterations} iterations")
    return lines
