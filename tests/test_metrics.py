"""Warping error E_warp (Lai et al. 2018): per pair, streamed, and on video files."""

from __future__ import annotations

import math
import subprocess
from pathlib import Path

import cv2
import imageio_ffmpeg
import numpy as np
import pytest

from stylizer.errors import InputError
from stylizer.metrics import WarpErrorMeter, evaluate_videos, warping_error

SAMPLES = Path(__file__).resolve().parent.parent / "samples"


@pytest.fixture(scope="module")
def pan() -> list[np.ndarray]:
    """Five 160x120 frames of a real photo panned 3 px right and 2 px up per frame."""
    photo = cv2.cvtColor(cv2.imread(str(SAMPLES / "chelsea.jpg")), cv2.COLOR_BGR2RGB)
    h, w = photo.shape[:2]
    x0, y0 = (w - 160) // 2, (h - 120) // 2
    return [photo[y0 + 2 * k : y0 + 2 * k + 120, x0 - 3 * k : x0 - 3 * k + 160] for k in range(5)]


def noisy(frames: list[np.ndarray], sigma: float, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [np.clip(f + rng.normal(0, sigma, f.shape), 0, 255).astype(np.float32) for f in frames]


def test_warping_error_is_zero_for_a_pure_shift(pan: list[np.ndarray]) -> None:
    assert warping_error(pan[0], pan[1], pan[0], pan[1]) < 1e-4


def test_warping_error_grows_with_flicker(pan: list[np.ndarray]) -> None:
    clean = warping_error(pan[0], pan[1], pan[0], pan[1])
    flicker = noisy(pan[:2], sigma=10)
    # Independent noise of sigma 10/255 on both frames: about 2 * (10/255)² = 3e-3.
    assert warping_error(flicker[0], flicker[1], pan[0], pan[1]) > max(1e-3, 10 * clean)


def test_meter_is_the_mean_of_pair_errors(pan: list[np.ndarray]) -> None:
    outputs = noisy(pan, sigma=5)
    meter = WarpErrorMeter()
    assert meter.count == 0 and math.isnan(meter.value)
    meter.add(pan[0], outputs[0])
    assert meter.count == 1 and math.isnan(meter.value)
    for in_frame, out_frame in zip(pan[1:], outputs[1:]):
        meter.add(in_frame, out_frame)
    pairs = [warping_error(outputs[k - 1], outputs[k], pan[k - 1], pan[k]) for k in range(1, len(pan))]
    floor = [warping_error(pan[k - 1], pan[k], pan[k - 1], pan[k]) for k in range(1, len(pan))]
    assert meter.count == len(pan)
    assert meter.value == pytest.approx(np.mean(pairs), rel=1e-6)
    assert meter.input_value == pytest.approx(np.mean(floor), rel=1e-6)


def make_clip(path: Path, size: str, frames: int = 8) -> Path:
    source = f"testsrc2=size={size}:rate=10"
    subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi", "-i", source,
         "-frames:v", str(frames), "-pix_fmt", "yuv420p", str(path)],
        check=True,
    )  # fmt: skip
    return path


def test_evaluate_videos(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "in.mp4", "64x48")
    same = evaluate_videos(clip, clip)
    assert same["frames"] == 8
    assert same["ewarp_output"] == same["ewarp_input"] >= 0
    # An output of another size is compared at the input's size.
    larger = evaluate_videos(clip, make_clip(tmp_path / "out.mp4", "96x72"), max_frames=5)
    assert larger["frames"] == 5 and np.isfinite(larger["ewarp_output"])


def test_evaluate_videos_reports_unreadable_input(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="missing.mp4"):
        evaluate_videos(tmp_path / "missing.mp4", tmp_path / "missing.mp4")
