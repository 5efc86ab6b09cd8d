"""Optical-flow accuracy and speed, to choose the default of stylizer.temporal.compute_flow.

Run from the repository root:  python -m benchmarks.flow

For DIS (ultrafast/fast/medium, and the default fine: medium refined more, at full resolution below 512
px wide) and Farneback it prints
- EPE: end-point error (px) of the backward flow on a real photo shifted by known whole and sub-pixel
  amounts (up to 11 px), away from a 10 px border;
- city: photometric error (mean |cur - warp(prev, flow)|, 0-255 grey levels, 10 px border left out) over the
  consecutive frames of samples/city.mp4, which has real camera motion and no ground truth;
- ms per flow at the clip size (360x202), at 512 px and at 1920 px wide.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import cv2
import imageio_ffmpeg
import numpy as np

from stylizer.temporal import DisPreset, compute_flow, warp

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
MARGIN = 10
SHIFTS = [(3.0, -2.0), (2.6, -1.3), (9.5, 6.25)]

FlowFn = Callable[[np.ndarray, np.ndarray], np.ndarray]


def read_clip(path: Path) -> list[np.ndarray]:
    frames = imageio_ffmpeg.read_frames(str(path))
    meta = next(frames)
    w, h = meta["size"]
    return [np.frombuffer(f, np.uint8).reshape(h, w, 3) for f in frames]


def shifted_pair(
    image: np.ndarray, dx: float, dy: float, size: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """(prev, cur) centre crops of `image`, the content of cur moved by (dx, dy) px relative to prev."""
    h, w = image.shape[:2]
    moved = cv2.warpAffine(image, np.float32([[1, 0, dx], [0, 1, dy]]), (w, h), flags=cv2.INTER_CUBIC)
    cw, ch = size
    x0, y0 = (w - cw) // 2, (h - ch) // 2
    return image[y0 : y0 + ch, x0 : x0 + cw], moved[y0 : y0 + ch, x0 : x0 + cw]


def interior(a: np.ndarray) -> np.ndarray:
    return a[MARGIN:-MARGIN, MARGIN:-MARGIN]


def epe(flow_fn: FlowFn, photo: np.ndarray) -> float:
    errors = []
    for dx, dy in SHIFTS:
        prev, cur = shifted_pair(photo, dx, dy, (320, 240))
        flow = flow_fn(cur, prev)  # backward flow: cur(x) = prev(x - d)
        errors.append(np.mean(interior(np.hypot(flow[..., 0] + dx, flow[..., 1] + dy))))
    return float(np.mean(errors))


def photometric(flow_fn: FlowFn, clip: list[np.ndarray]) -> float:
    errors = []
    for prev, cur in zip(clip, clip[1:]):
        warped = warp(prev.astype(np.float32), flow_fn(cur, prev))
        errors.append(np.mean(interior(np.abs(cur - warped))))
    return float(np.mean(errors))


def ms_per_flow(flow_fn: FlowFn, clip: list[np.ndarray]) -> float:
    flow_fn(clip[1], clip[0])  # first call allocates
    start = time.perf_counter()
    for prev, cur in zip(clip, clip[1:]):
        flow_fn(cur, prev)
    return 1000 * (time.perf_counter() - start) / (len(clip) - 1)


def methods() -> dict[str, FlowFn]:
    presets: tuple[DisPreset, ...] = ("ultrafast", "fast", "medium", "fine")
    table: dict[str, FlowFn] = {
        f"dis-{p}": (lambda a, b, p=p: compute_flow(a, b, "dis", dis_preset=p)) for p in presets
    }
    table["farneback"] = lambda a, b: compute_flow(a, b, "farneback")
    # No motion compensation at all: the scale against which the errors above mean something.
    table["zero flow"] = lambda a, b: np.zeros((*a.shape[:2], 2), np.float32)
    return table


def main() -> None:
    cv2.setNumThreads(1)  # comparable timings whatever the machine's core count
    photo = cv2.cvtColor(cv2.imread(str(SAMPLES / "chelsea.jpg")), cv2.COLOR_BGR2RGB)
    clip = read_clip(SAMPLES / "city.mp4")
    h, w = clip[0].shape[:2]
    big = [cv2.resize(f, (512, round(512 * h / w)), interpolation=cv2.INTER_CUBIC) for f in clip]
    full = [cv2.resize(f, (1920, round(1920 * h / w)), interpolation=cv2.INTER_CUBIC) for f in clip[:8]]
    print(f"{'method':<16}{'EPE px':>8}{'city err':>10}{'ms 360':>9}{'ms 512':>9}{'ms 1920':>9}")
    for name, fn in methods().items():
        print(
            f"{name:<16}{epe(fn, photo):>8.3f}{photometric(fn, clip):>10.2f}"
            f"{ms_per_flow(fn, clip):>9.1f}{ms_per_flow(fn, big):>9.1f}{ms_per_flow(fn, full):>9.1f}"
        )


if __name__ == "__main__":
    main()
