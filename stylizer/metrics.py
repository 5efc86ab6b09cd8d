"""Temporal-consistency metric: the warping error E_warp of Lai et al. 2018 ("Learning Blind Video
Temporal Consistency"), computed with the flows of stylizer.temporal.

Frames are HxWx3 RGB with values in [0, 255] (uint8 or float32).
"""

from __future__ import annotations

from itertools import islice
from pathlib import Path

import cv2
import numpy as np

from stylizer.io.readers import iter_video_frames
from stylizer.temporal import FlowMethod, FlowPair, flow_between, warp


def _pair_error(out_prev: np.ndarray, out_cur: np.ndarray, pair: FlowPair) -> float:
    """sum(M * (O_t - warp(O_{t-1}))²) / (sum(M) * C), images in [0, 1]; nan when no pixel is reliable."""
    reliable = float(pair.mask.sum())
    if reliable == 0:
        return float("nan")
    cur = out_cur.astype(np.float32) / 255
    warped = warp(out_prev.astype(np.float32) / 255, pair.flow_bw)
    squared = (cur - warped) ** 2 * pair.mask[..., None]
    return float(squared.sum()) / (reliable * cur.shape[2])


def warping_error(
    out_prev: np.ndarray,
    out_cur: np.ndarray,
    in_prev: np.ndarray,
    in_cur: np.ndarray,
    method: FlowMethod = "dis",
) -> float:
    """E_warp between two consecutive output frames; flow and occlusion mask come from the input frames,
    which the output should follow, not from the output, whose flicker would corrupt them."""
    return _pair_error(out_prev, out_cur, flow_between(in_prev, in_cur, method))


class WarpErrorMeter:
    """Streaming E_warp: call add(in_frame, out_frame) for each frame in order.

    `value` is the mean over frame pairs of the output's E_warp, `input_value` the same for the input video
    (the floor the output can be compared with: flow errors and noise already make it non-zero); both share
    one flow computation per pair. Pairs without any reliable pixel carry no information and are skipped.
    """

    def __init__(self, method: FlowMethod = "dis") -> None:
        self.method = method
        self.count = 0  # frames added
        self._prev: tuple[np.ndarray, np.ndarray] | None = None
        self._output_errors: list[float] = []
        self._input_errors: list[float] = []

    def add(self, in_frame: np.ndarray, out_frame: np.ndarray) -> None:
        if self._prev is not None:
            in_prev, out_prev = self._prev
            pair = flow_between(in_prev, in_frame, self.method)
            output_error = _pair_error(out_prev, out_frame, pair)
            if not np.isnan(output_error):
                self._output_errors.append(output_error)
                self._input_errors.append(_pair_error(in_prev, in_frame, pair))
        self._prev = (in_frame, out_frame)
        self.count += 1

    @property
    def value(self) -> float:
        return float(np.mean(self._output_errors)) if self._output_errors else float("nan")

    @property
    def input_value(self) -> float:
        return float(np.mean(self._input_errors)) if self._input_errors else float("nan")


def evaluate_videos(input_video: Path, output_video: Path, max_frames: int | None = None) -> dict:
    """E_warp of a stylized video against its input, over the frames both have (at most max_frames).

    Returns {"frames": n, "ewarp_output": ..., "ewarp_input": ...}; the output is compared at the input's
    size, since the flow is computed there.
    """
    meter = WarpErrorMeter()
    # The pipeline's own reader: the same constant-rate frame indices, rotation and decode-error handling
    # as the frames that were stylized.
    inputs, outputs = iter_video_frames(input_video), iter_video_frames(output_video)
    try:
        for (_, in_frame), (_, out_frame) in islice(zip(inputs, outputs), max_frames):
            if out_frame.shape != in_frame.shape:
                out_frame = cv2.resize(out_frame, in_frame.shape[1::-1], interpolation=cv2.INTER_AREA)
            meter.add(in_frame, out_frame)
    finally:
        inputs.close()
        outputs.close()
    return {"frames": meter.count, "ewarp_output": meter.value, "ewarp_input": meter.input_value}
