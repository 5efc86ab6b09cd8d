"""Temporal consistency for video style transfer (Ruder et al. 2016, "Artistic style transfer for videos").

Images are numpy HxWx3 RGB arrays with values in [0, 255] (uint8 or float32); flows are HxWx2 float32
arrays in pixels, (dx, dy). A flow `f` computed by `compute_flow(src, dst)` satisfies
src(x) ≈ dst(x + f(x)), so `warp(dst, f)` brings `dst` onto the pixel grid of `src`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Callable, Literal

import cv2
import numpy as np

FlowMethod = Literal["dis", "farneback"]
DisPreset = Literal["ultrafast", "fast", "medium", "fine"]

_FULL_RESOLUTION_FLOW_BELOW = 512  # px wide


def _fine_scale(width: int) -> int:
    """The finest pyramid level of "fine" (0 = full resolution; 1 = half size, medium's own)."""
    return 0 if width < _FULL_RESOLUTION_FLOW_BELOW else 1


# name -> (OpenCV preset, variational refinement iterations, finest level for a frame width); None keeps
# the preset's own.
# "fine" is medium with 15 refinement iterations instead of 5, and for frames under 512 px wide its
# finest level at full resolution (medium stops one level short and upsamples: a level under 256 px wide
# then). A warm frame starts from the previous result warped with this flow, so each frame's flow error is
# painted into the next start and carried along the shot. Measured over whole shots with Farneback flow,
# which the loss never sees (benchmarks/RESULTS.md): at 256 px E_warp 0.90x (moving camera), 0.69x (static
# camera), 0.71x (shaky camera) of medium's, style within 1%; at 512 px 0.97x with style unchanged, where
# full resolution would have cost 4% style distance. EPE in `python -m benchmarks.flow`.
_DIS_PRESETS: dict[str, tuple[int, int | None, Callable[[int], int] | None]] = {
    "ultrafast": (cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST, None, None),
    "fast": (cv2.DISOPTICAL_FLOW_PRESET_FAST, None, None),
    "medium": (cv2.DISOPTICAL_FLOW_PRESET_MEDIUM, None, None),
    "fine": (cv2.DISOPTICAL_FLOW_PRESET_MEDIUM, 15, _fine_scale),
}
DEFAULT_DIS_PRESET: DisPreset = "fine"

# DIS instances hold scratch buffers and are not safe to share between threads, but creating one per
# call costs allocations on every frame: keep one per thread, preset and finest level.
_local = threading.local()


def _dis(preset: DisPreset, width: int) -> cv2.DISOpticalFlow:
    base, refinement, level_for = _DIS_PRESETS[preset]
    key = (preset, None if level_for is None else level_for(width))
    cache: dict[tuple, cv2.DISOpticalFlow] = _local.__dict__.setdefault("dis", {})
    if key not in cache:
        dis = cv2.DISOpticalFlow_create(base)
        if key[1] is not None:
            dis.setFinestScale(key[1])
        if refinement is not None:
            dis.setVariationalRefinementIterations(refinement)
        cache[key] = dis
    return cache[key]


def _to_u8(image: np.ndarray) -> np.ndarray:
    if image.dtype == np.uint8:
        return image
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


def _to_gray_u8(image: np.ndarray) -> np.ndarray:
    """Both flow algorithms in OpenCV take 8-bit single-channel images."""
    image = _to_u8(image)
    return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if image.ndim == 3 else image


def compute_flow(
    src: np.ndarray,
    dst: np.ndarray,
    method: FlowMethod = "dis",
    *,
    dis_preset: DisPreset = DEFAULT_DIS_PRESET,
) -> np.ndarray:
    """Optical flow `f` (HxWx2 float32, pixels) with src(x) ≈ dst(x + f(x)), computed on grayscale.

    Inputs are RGB (or grayscale) images, uint8 or float in [0, 255], of the same size.
    Default DIS fine (see _DIS_PRESETS; `python -m benchmarks.flow`, one core): EPE 0.024 px vs medium 0.063 /
    ultrafast 0.208 / Farneback 0.175 on a shifted photo; warp error on city.mp4 5.35 vs 5.68 / 6.56 / 5.53
    (no flow 14.03); ms per flow at 360x202 / 512 / 1920 px 38 / 19 / 368 vs medium 4.9 / 10.8 / 226.
    """
    if src.shape[:2] != dst.shape[:2]:
        raise ValueError(f"flow needs frames of one size, got {src.shape[:2]} and {dst.shape[:2]}")
    a, b = _to_gray_u8(src), _to_gray_u8(dst)
    if method == "dis":
        # No initial flow is passed: DIS would otherwise refine whatever the output buffer holds.
        flow = _dis(dis_preset, a.shape[1]).calc(a, b, None)
    elif method == "farneback":
        # The settings of OpenCV's own Farneback example: this method is kept as a reference for DIS.
        flow = cv2.calcOpticalFlowFarneback(
            a, b, None, pyr_scale=0.5, levels=3, winsize=15, iterations=3, poly_n=5, poly_sigma=1.2, flags=0
        )
    else:
        raise ValueError(f"unknown flow method {method!r}")
    return flow.astype(np.float32, copy=False)


def _sample_grid(flow: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Absolute sampling positions x + flow(x), as the two float32 maps cv2.remap takes."""
    h, w = flow.shape[:2]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    return xs + flow[..., 0], ys + flow[..., 1]


def warp(image: np.ndarray, flow: np.ndarray, sharp: bool = False) -> np.ndarray:
    """result(x) = image(x + flow(x)); HxW or HxWxC in, float32 of the same shape out.

    Bilinear by default (flows, masks, metrics). ``sharp`` (Lanczos) for a stylised frame that seeds the
    next one: bilinear sampling at sub-pixel offsets averages neighbours and softens the painted texture on
    every frame, so the blur accumulates over a shot and each warm frame must first paint it back. Measured
    on samples/city.mp4 at 128 px (Starry Night), the style loss of the previous result warped onto the
    next frame rose 43% with bilinear sampling, 10% with bicubic, 7% with Lanczos (2% from new content).
    """
    map_x, map_y = _sample_grid(flow)
    interpolation = cv2.INTER_LANCZOS4 if sharp else cv2.INTER_LINEAR
    out = cv2.remap(
        image.astype(np.float32, copy=False), map_x, map_y, interpolation, borderMode=cv2.BORDER_REPLICATE
    )
    if sharp:
        out = np.clip(out, 0, 255)  # Lanczos overshoots at sharp edges
    # cv2.remap drops a trailing channel axis of size 1.
    return out.reshape(image.shape)


def reliability_mask(flow_bw: np.ndarray, flow_fw: np.ndarray) -> np.ndarray:
    """Ruder et al. consistency check for frame k: float32 HxW, 1 = the warped previous frame can be trusted.

    flow_bw = compute_flow(frame_k, frame_{k-1}) and flow_fw = compute_flow(frame_{k-1}, frame_k).
    """
    h, w = flow_bw.shape[:2]
    map_x, map_y = _sample_grid(flow_bw)
    # Pixels that come from outside the previous frame have nothing to be warped from.
    inside = (map_x >= 0) & (map_x <= w - 1) & (map_y >= 0) & (map_y <= h - 1)
    fw_back = warp(flow_fw, flow_bw)
    # Forward then backward should return to the start; where it does not, the pixel was occluded.
    fw_sq = np.sum(fw_back**2, axis=2)
    round_trip = np.sum((flow_bw + fw_back) ** 2, axis=2)
    occluded = round_trip > 0.01 * (np.sum(flow_bw**2, axis=2) + fw_sq) + 0.5
    # Flow is unreliable at motion boundaries; like Ruder's consistencyChecker, the gradient is taken
    # of the backward flow (central differences) and compared with the magnitude of the forward one.
    du_dy, du_dx = np.gradient(flow_bw[..., 0])
    dv_dy, dv_dx = np.gradient(flow_bw[..., 1])
    boundary = du_dx**2 + du_dy**2 + dv_dx**2 + dv_dy**2 > 0.01 * fw_sq + 0.002
    return _taper((inside & ~occluded & ~boundary).astype(np.float32))


def _taper(mask: np.ndarray) -> np.ndarray:
    """The weights fall off smoothly towards unreliable pixels instead of jumping from 1 to 0 there: the
    flow is least accurate right next to an occlusion or a motion boundary, and full weight on the pixels
    just outside it pulls the edge of a moving object back to where it was (ghost edges)."""
    return np.minimum(mask, _edge_blur(mask))


def _edge_blur(plane: np.ndarray) -> np.ndarray:
    """An HxW plane blurred over the width of flow's own edge error (about 2.5 px at 512)."""
    return cv2.GaussianBlur(plane, (0, 0), max(1.0, min(plane.shape) / 200))


@dataclass
class FlowPair:
    """Flows between two consecutive frames, seen from the later one (`cur`)."""

    flow_bw: np.ndarray  # cur -> prev: warp(prev_thing, flow_bw) lands on cur's grid
    flow_fw: np.ndarray  # prev -> cur
    mask: np.ndarray  # reliability of flow_bw on cur's grid, 1 = reliable


def flow_between(prev: np.ndarray, cur: np.ndarray, method: FlowMethod = "dis") -> FlowPair:
    flow_bw = compute_flow(cur, prev, method)
    flow_fw = compute_flow(prev, cur, method)
    return FlowPair(flow_bw, flow_fw, reliability_mask(flow_bw, flow_fw))


# Scene cuts are judged on small frames: cheaper, and the cues below do not need detail.
_CUT_WIDTH = 128
# Each cue is divided by the level that separates cuts from continuous motion (see scene_cut_score).
_CUT_HIST_LEVEL = 0.3
_CUT_RESIDUAL_LEVEL = 0.08
SCENE_CUT_THRESHOLD = 1.0


def _cut_view(image: np.ndarray) -> np.ndarray:
    image = _to_u8(image)
    h, w = image.shape[:2]
    if w <= _CUT_WIDTH:
        return image
    return cv2.resize(image, (_CUT_WIDTH, max(1, round(h * _CUT_WIDTH / w))), interpolation=cv2.INTER_AREA)


def _hue_saturation_hist(rgb: np.ndarray) -> np.ndarray:
    """Hue-saturation histogram: brightness is left out so that exposure changes and flashes are no cuts."""
    hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)
    hist = cv2.calcHist([hsv], [0, 1], None, [30, 32], [0, 180, 0, 256])
    return cv2.normalize(hist, hist, 1, 0, cv2.NORM_L1)


def scene_cut_score(prev: np.ndarray, cur: np.ndarray) -> float:
    """How much `cur` looks like a new shot after `prev` (consecutive input frames): > 1 when both cues agree.

    Colour histograms alone move little under camera motion but also little between two shots of similar
    colours; the residual after flow compensation stays small under motion but rises with occlusions and
    blur. A hard cut has to show both, so the score is the smaller of the two, each divided by its level.
    Levels sit between what was measured (at 128 px wide) on samples/city.mp4 (consecutive frames and
    frames 3 apart) plus the sample photos shifted by up to 27 px, and on pairs of different sample photos:
    hue-saturation Bhattacharyya distance <= 0.16 without a cut, >= 0.56 across one; mean absolute grey
    residual (0-1) <= 0.044 without a cut, >= 0.136 across one.
    """
    a, b = _cut_view(prev), _cut_view(cur)
    hist = cv2.compareHist(_hue_saturation_hist(a), _hue_saturation_hist(b), cv2.HISTCMP_BHATTACHARYYA)
    gray_a = cv2.cvtColor(a, cv2.COLOR_RGB2GRAY).astype(np.float32)
    gray_b = cv2.cvtColor(b, cv2.COLOR_RGB2GRAY).astype(np.float32)
    # The levels below were measured with DIS medium: the cue keeps that flow.
    flow = compute_flow(gray_b, gray_a, dis_preset="medium")
    residual = float(np.mean(np.abs(gray_b - warp(gray_a, flow)))) / 255
    return min(hist / _CUT_HIST_LEVEL, residual / _CUT_RESIDUAL_LEVEL)


def is_scene_cut(prev: np.ndarray, cur: np.ndarray, threshold: float = SCENE_CUT_THRESHOLD) -> bool:
    return scene_cut_score(prev, cur) > threshold


@dataclass
class TemporalTarget:
    """What a warm frame is pulled towards: one target and per-pixel weights for the temporal loss."""

    init: np.ndarray    # the previous result warped onto this frame (warm_start), following the photo's change
                        # where the warp does not explain it (follow_photo)
    target: np.ndarray  # per pixel, the nearest earlier result in which it was visible, warped here
    weights: np.ndarray  # HxW in [0, 1]
    motion: float  # how far the view moved since the frame before (motion()), in pixels
    changed: float = 0.0  # the fraction of pixels the warp from the frame before does not explain (explained())


# A pixel whose photo differs from the previous photo warped onto it by more than the first number of grey
# levels (mean over RGB, beyond the frame's median difference) is explained less and less, not at all from
# the second. A still camera's noise and a pan's resampling stay under the first: at 192 px the median
# frame of tree.avi, samples/city.mp4 and Megamind.avi frames 230-259 has 0-0.02% of its pixels past the
# middle (explained below 0.5), against 0.44% on vtest.avi (people walking).
UNEXPLAINED = (16.0, 40.0)


def explained(content: np.ndarray, seen: np.ndarray) -> np.ndarray:
    """HxW in [0, 1]: 1 where ``seen``, the previous photo warped onto this frame, shows what this frame
    shows; 0 where the flow is wrong. Ruder's check compares two flows with each other, so a flow that is
    smooth and wrong in both directions passes it: DIS spreads a small walker's motion over a blob about
    three times its size, and the pavement the walker leaves is "explained" by the pavement behind it, the
    walker's own warped texture included. The photo itself says where that happened.

    The difference is blurred like the mask's taper, and the frame's median difference is taken off it, so
    the whole frame brightening or darkening by a few grey levels is not a change of content."""
    diff = np.abs(np.asarray(content, np.float32) - np.asarray(seen, np.float32)).mean(axis=2)
    diff = _edge_blur(diff) - np.median(diff)
    low, high = UNEXPLAINED
    return 1 - np.clip((diff - low) / (high - low), 0, 1)


# The window over which a result's response to its photo is measured (local_gain), as a fraction of the long
# side: 6 px at 192 px, about a walker's width there. Where the photo varies by less than GAIN_FLAT grey
# levels (standard deviation) in the window, the frame-wide response stands in for the local one.
GAIN_WINDOW = 1 / 32
GAIN_FLAT = 10.0


def local_gain(seen: np.ndarray, start: np.ndarray) -> np.ndarray:
    """HxWx3 in [0, 1]: how many grey levels the stylised ``start`` moves per grey level of its photo
    ``seen`` near each pixel, per channel: the slope of the least-squares line start ~ seen in a window
    around it (the a of He et al.'s guided filter), shrunk towards the frame-wide slope where the photo is
    flat in the window."""
    radius = max(2, round(GAIN_WINDOW * max(seen.shape[:2])))
    box = lambda plane: cv2.blur(plane, (2 * radius + 1, 2 * radius + 1))  # noqa: E731
    seen, start = np.asarray(seen, np.float32), np.asarray(start, np.float32)
    mean_seen, mean_start = box(seen), box(start)
    cov = box(seen * start) - mean_seen * mean_start
    var = np.maximum(box(seen * seen) - mean_seen * mean_seen, 0)
    flat_s, flat_r = seen.reshape(-1, 3), start.reshape(-1, 3)
    frame = ((flat_s - flat_s.mean(0)) * (flat_r - flat_r.mean(0))).mean(0) / np.maximum(flat_s.var(0), 1e-6)
    shrink = GAIN_FLAT ** 2
    return np.clip((cov + shrink * frame) / (var + shrink), 0, 1)


def follow_photo(start: np.ndarray, content: np.ndarray, seen: np.ndarray, fits: np.ndarray) -> np.ndarray:
    """The warped result with the photo's own change added where the warp does not explain it (``fits``
    below 1): a pixel a walker has just left starts from the warped walker changed as the photo changed
    there (brought towards the pavement), and the walker's new pixels the other way. Starting from the warp
    alone, each frame copied the walker's back edge into the pixels behind it and the temporal loss then held
    the copy: dark trails along every path on vtest.avi, which no number of iterations removed (RESULTS.md,
    "A still camera with people walking").

    The change is scaled by the result's own response to its photo there (local_gain): a painting renders a
    bright line on a dark wall at a fraction of its contrast, and subtracting the photo's whole change when
    the line went away left a dark scar in its place, which the temporal loss then held for the rest of the
    shot (Megamind_bugy.avi's one-frame glitches, RESULTS.md)."""
    if fits.min() >= 1:  # the warp explains every pixel (most frames): no change to follow, no gain to measure
        return np.clip(start, 0, 255)
    return np.clip(start + (1 - fits)[..., None] * local_gain(seen, start) * (content - seen), 0, 255)


def temporal_target(earlier: list[tuple[np.ndarray, np.ndarray]], content: np.ndarray) -> TemporalTarget:
    """Ruder et al.'s long-term temporal loss against several earlier (content, result) pairs, nearest
    first: frame k-j's weight is c_long = max(c_j - sum of the nearer frames' c, 0), so each pixel is held
    to the nearest earlier result that saw it, and a pixel occluded in frame k-1 is still held to k-2 or
    k-4 (a background seen again after a person walked past). The separate terms sum_j c_j (x - w_j)^2
    have the gradient of one term with weights C = sum_j c_j and target sum_j c_j w_j / C, which is what
    is returned: the loss needs no more than the one target it has. c_j is Ruder's mask times explained():
    where frame k-j's photo, warped here, disagrees with this one, its result does not hold the pixel.
    """
    weights = np.zeros(content.shape[:2], np.float32)
    covered = np.zeros_like(weights)
    weighted = np.zeros(content.shape, np.float32)
    init, moved, changed = None, 0.0, 0.0
    for prev_content, prev_result in earlier:
        pair = flow_between(prev_content, content)
        warped = warm_start(prev_result, pair)
        seen = warp(prev_content, pair.flow_bw)
        fits = explained(content, seen)
        if init is None:
            init = follow_photo(warped, content, seen, fits)
            moved, changed = motion(pair.flow_bw), float(np.mean(fits < 0.5))
        # The temporal loss holds a pixel only where both the flows agree and the photo says they are right.
        mask = pair.mask * fits
        c_long = np.clip(mask - covered, 0, None)
        weighted += c_long[..., None] * warped
        weights += c_long
        covered += mask
    target = np.where(weights[..., None] > 0, weighted / np.maximum(weights, 1e-6)[..., None], init)
    return TemporalTarget(init, target.astype(np.float32), np.clip(weights, 0, 1), moved, changed)


# A view that moves by this fraction of its long side per frame or more is a moving one (0.1 px at 192 px):
# city.mp4's pan moves 0.22-0.35 px a frame at 192 px; a hand-held but steady shot (tree.avi) 0.02-0.07.
MOVING = 1 / 2000


def motion(flow: np.ndarray) -> float:
    """How far most of the picture moved, in pixels: the median length of the flow. A pan or a zoom moves
    nearly every pixel; people walking before a still camera leave the median at about 0."""
    return float(np.median(np.hypot(flow[..., 0], flow[..., 1])))


# A warm frame where this fraction of the pixels or more changed in a way the flow does not explain (people
# walking into, across or out of a still view) is not kept either: its new pixels' start follows the photo's
# change (follow_photo) and needs painting. At 192 px the median frame of vtest.avi has 0.44% (0.26% at
# 384 px), of tree.avi 0.007% and of samples/city.mp4 0; their largest 0.16% and 0.14% (one or two frames).
CHANGING = 0.001


def is_moving(moved: float, shape: tuple[int, ...]) -> bool:
    """Whether a view that moved ``moved`` pixels (motion()) in a frame of ``shape`` is a moving one."""
    return moved >= MOVING * max(shape[:2])


def motion_between(prev: np.ndarray, cur: np.ndarray) -> float:
    """motion() of the flow between two frames, without the reliability check a warm start needs."""
    return motion(compute_flow(cur, prev))


def warm_start(prev_result: np.ndarray, pair: FlowPair) -> np.ndarray:
    """The temporal target for frame k and the base of its start: the stylised frame k-1 warped onto
    frame k (float32, [0, 255]), unreliable pixels included, as Ruder et al. initialise ("prevWarped");
    the temporal loss is masked there, so content and style losses alone repaint them.

    Filling unreliable pixels with half the content frame instead (the earlier start) left those regions
    unstylised: with the adaptive warm-frame stop its style loss started 40% above the previous result's
    (vtest.avi, 128 px) and every warm frame spent its first iterations painting them back. Measured over
    whole clips with independent measures (benchmarks/warm_frames.py, RESULTS.md): the warped start took
    1.2-1.5x fewer iterations and flickered 0.6-0.9x as much (Farneback E_warp), style distance within 4%.
    """
    return warp(prev_result, pair.flow_bw, sharp=True)
