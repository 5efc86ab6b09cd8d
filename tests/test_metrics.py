"""Warping error E_warp (Lai et al. 2018): per pair, streamed, and on video files; the independent quality
measures (VGG16 style and content distances on other layers, sharpness, Farneback flicker)."""

from __future__ import annotations

import math
import subprocess
from pathlib import Path

import cv2
import imageio_ffmpeg
import numpy as np
import pytest

from stylizer.errors import InputError
from stylizer.metrics import (
    IndependentFeatures,
    WarpErrorMeter,
    evaluate_videos,
    relative_sharpness,
    sharpness,
    warping_error,
)

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
    clip = make_clip(tmp_path / "in.mp4", "64x48", frames=12)
    same = evaluate_videos(clip, clip, long_gap=10)
    assert same["frames"] == 12
    assert same["ewarp_output"] == same["ewarp_input"] >= 0
    assert same["ewarp_long_output"] == same["ewarp_long_input"] >= 0  # frames 0-10 and 1-11
    assert same["sharpness_mean"] == same["sharpness_first"] == same["sharpness_last"] == pytest.approx(1)
    # An output of another size is compared at the input's size.
    larger = evaluate_videos(clip, make_clip(tmp_path / "out.mp4", "96x72"), max_frames=5)
    assert larger["frames"] == 5 and np.isfinite(larger["ewarp_output"])


def test_evaluate_videos_reports_unreadable_input(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="missing.mp4"):
        evaluate_videos(tmp_path / "missing.mp4", tmp_path / "missing.mp4")


# ------------------------------------------------------------------------------ independent measures

def test_farneback_warping_error_is_small_for_a_shifted_pair(pan: list[np.ndarray]) -> None:
    error = warping_error(pan[0], pan[1], pan[0], pan[1], method="farneback")
    unwarped = float(np.mean((pan[1].astype(np.float32) / 255 - pan[0].astype(np.float32) / 255) ** 2))
    assert error < 1e-3 and error < 0.05 * unwarped


def test_evaluate_videos_with_the_pipelines_own_flow(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "in.mp4", "64x48", frames=4)
    result = evaluate_videos(clip, clip, method="dis")
    assert result["frames"] == 4
    assert result["ewarp_output"] == result["ewarp_input"] >= 0


def test_a_long_gap_sees_a_slow_drift_that_consecutive_frames_hide(pan: list[np.ndarray]) -> None:
    # A static shot whose output gets a little darker every frame, as a background drifting over a shot.
    still = [pan[0]] * 5
    outputs = [(frame * (1 - 0.01 * k)).astype(np.uint8) for k, frame in enumerate(still)]
    short, long = WarpErrorMeter("farneback"), WarpErrorMeter("farneback", gap=4)
    for in_frame, out_frame in zip(still, outputs):
        short.add(in_frame, out_frame)
        long.add(in_frame, out_frame)
    assert max(short.input_value, long.input_value) < 1e-6  # the input itself is still
    assert long.value > 10 * short.value > 0  # 4% apart against 1%: about 16x the squared error


def test_sharpness_falls_with_blur(pan: list[np.ndarray]) -> None:
    image = pan[0]
    blurred = cv2.GaussianBlur(image, (0, 0), 2)
    assert sharpness(blurred) < 0.5 * sharpness(image)
    assert relative_sharpness(image, image) == pytest.approx(1.0)
    # The input is compared at the output's size.
    assert relative_sharpness(blurred, cv2.resize(image, (320, 240))) < 1


def _sample(name: str, side: int = 128) -> np.ndarray:
    rgb = cv2.cvtColor(cv2.imread(str(SAMPLES / name)), cv2.COLOR_BGR2RGB)
    scale = side / max(rgb.shape[:2])
    return cv2.resize(rgb, (round(rgb.shape[1] * scale), round(rgb.shape[0] * scale)), interpolation=cv2.INTER_AREA)


@pytest.fixture(scope="module")
def independent() -> IndependentFeatures:
    return IndependentFeatures(side=128)


@pytest.mark.weights
def test_independent_style_distance(independent: IndependentFeatures) -> None:
    style, photo = _sample("starry_night.jpg"), _sample("chelsea.jpg")
    assert independent.style_distance(style, style) == pytest.approx(0, abs=1e-5)
    far = independent.style_distance(photo, style)
    assert far > 1  # measured 2.7
    # Float input, and a style image of another size (resized to the image's longest side): measured 0.26.
    assert independent.style_distance(style.astype(np.float32), _sample("starry_night.jpg", 96)) < 0.2 * far


@pytest.mark.weights
def test_independent_content_distance(independent: IndependentFeatures) -> None:
    photo = _sample("chelsea.jpg")
    assert independent.content_distance(photo, photo) == 0
    blurred = cv2.GaussianBlur(photo, (0, 0), 3)
    assert independent.content_distance(blurred, photo) > 0.1  # measured 0.76
    both = independent.distances(blurred, photo=photo, style_image=_sample("starry_night.jpg"))
    assert set(both) == {"style", "content"}
    assert both["content"] == pytest.approx(independent.content_distance(blurred, photo), rel=1e-5)
