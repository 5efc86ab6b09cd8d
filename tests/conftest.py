"""Shared fixtures: offline environment, a tiny style image, and ways to run the command line.

Two ways to run `stylize-video`:
  * ``run_cli`` / ``start_cli``: a real subprocess (exit codes, signals, SIGKILL, locks between processes);
  * ``stylize``: ``stylizer.cli.main`` in this process (no TensorFlow start-up per call, ~1 s per tiny run).
Every run uses tiny budgets (``FAST``) so that the whole suite stays within a few minutes on 2 cores.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
from PIL import Image

# Subprocesses inherit these; set at import so that even module-scoped fixtures see them.
os.environ["STYLIZER_OFFLINE"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

FAST = ("--size", "64", "--iterations", "3", "--warm-iterations", "2")
ERROR_PREFIX = "stylize-video: error:"


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing may try the internet: the weights come from the cache (~/.cache/stylizer)."""
    monkeypatch.setenv("STYLIZER_OFFLINE", "1")
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "2")


# --------------------------------------------------------------------------------------------- images

def pattern(width: int, height: int, seed: int = 0) -> np.ndarray:
    """A smooth colourful picture with some noise: compresses like a photo, never uniform."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    rgb = np.stack([
        127 + 100 * np.sin(x / max(width, 1) * 6 + seed),
        127 + 100 * np.cos(y / max(height, 1) * 5 + seed),
        127 + 100 * np.sin((x + y) / max(width + height, 1) * 9),
    ], axis=-1)
    rgb += rng.normal(0, 12, rgb.shape)
    return np.clip(rgb, 0, 255).astype(np.uint8)


def make_image(path: Path, width: int = 64, height: int = 48, mode: str = "RGB", seed: int = 0,
               **save) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.fromarray(pattern(width, height, seed), "RGB")
    if mode == "RGBA":
        alpha = np.tile(np.linspace(0, 255, width, dtype=np.uint8), (height, 1))
        image = Image.fromarray(np.dstack([np.asarray(image), alpha]), "RGBA")
    elif mode == "P":
        image = image.quantize(16)
    elif mode != "RGB":
        image = image.convert(mode)
    image.save(path, **save)
    return path


@pytest.fixture(scope="session")
def style_image(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 48x48 style image written with PIL (stripes and noise: plenty of texture for the Gram matrices)."""
    path = tmp_path_factory.mktemp("style") / "style.png"
    rgb = pattern(48, 48, seed=7)
    rgb[::6] = (250, 200, 20)
    Image.fromarray(rgb).save(path)
    return path


# --------------------------------------------------------------------------------------------- the CLI

def cli_command(*args) -> list[str]:
    return [sys.executable, "-m", "stylizer", *map(str, args)]


def run_cli(*args, cwd: Path | None = None, timeout: float = 180) -> tuple[int, str, str]:
    """Run stylize-video in a subprocess; returns (exit code, stdout, stderr)."""
    result = subprocess.run(cli_command(*args), cwd=cwd, capture_output=True, text=True, timeout=timeout,
                            stdin=subprocess.DEVNULL)
    return result.returncode, result.stdout, result.stderr


def start_cli(*args, cwd: Path | None = None) -> subprocess.Popen:
    """Start stylize-video in the background (stdout/stderr piped: read them with finish())."""
    return subprocess.Popen(cli_command(*args), cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, text=True)


def finish(proc: subprocess.Popen, timeout: float = 180) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def kill(proc: subprocess.Popen, sig: int = signal.SIGKILL) -> tuple[int, str, str]:
    if proc.poll() is None:
        proc.send_signal(sig)
    return finish(proc, timeout=60)


def wait_for(condition: Callable[[], bool], proc: subprocess.Popen | None = None, timeout: float = 120,
             interval: float = 0.02) -> bool:
    """Poll until condition() holds; False if the process ended first or the time ran out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        if proc is not None and proc.poll() is not None:
            return condition()
        time.sleep(interval)
    return False


@pytest.fixture
def stylize(capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch):
    """Run ``stylizer.cli.main`` in this process: returns (exit code, stdout, stderr) like run_cli."""
    from stylizer.cli import main

    def call(*args, cwd: Path | None = None) -> tuple[int, str, str]:
        capsys.readouterr()
        with monkeypatch.context() as m:
            if cwd is not None:
                m.chdir(cwd)
            try:
                rc = main([str(a) for a in args])
            except SystemExit as exc:  # argparse's own usage errors
                rc = exc.code
        out, err = capsys.readouterr()
        return rc, out, err

    return call


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith(ERROR_PREFIX)]


def assert_user_error(rc: int, stderr: str, code: int | None = None, *words: str) -> str:
    """One `stylize-video: error:` line, no traceback, a non-zero (or the given) exit code; returns the line."""
    assert "Traceback" not in stderr, stderr
    lines = error_lines(stderr)
    assert len(lines) == 1, stderr
    assert rc != 0
    if code is not None:
        assert rc == code, stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


# --------------------------------------------------------------------------------------------- media checks

def video_facts(path: Path) -> tuple[int, int, object, int, bool]:
    """(width, height, fps, decoded frame count, has audio) of a video, as the readers see it."""
    from stylizer.io.readers import count_frames, probe_video

    info = probe_video(path)
    return info.width, info.height, info.fps, count_frames(path), info.has_audio


def decodes_fully(path: Path) -> bool:
    """True when ffmpeg decodes the whole file without a single error message."""
    import imageio_ffmpeg

    result = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-nostdin", "-v", "error", "-i", str(path),
                             "-f", "null", "-"], capture_output=True, text=True)
    return result.returncode == 0 and not result.stderr.strip()


def image_decodes(path: Path) -> bool:
    try:
        with Image.open(path) as im:
            im.load()
        return True
    except Exception:
        return False


def mtimes(folder: Path, pattern_: str = "*.png") -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in sorted(Path(folder).glob(pattern_))}


# ------------------------------------------------------------------------------------- small objective

@pytest.fixture(scope="session")
def small_objective():
    """A two-layer random-weight VGG stand-in with a style target: plumbing tests of the optimisers only.
    Returns (objective, content image (24, 28, 3), FrameTargets)."""
    from stylizer import features, losses
    from stylizer.optimize import FrameTargets

    layers = ("block1_conv1", "block2_conv1")
    rng = np.random.default_rng(0)
    net = features.build_extractor(features.random_params(0, "block2_conv1"), layers)
    style = rng.uniform(0, 255, (32, 32, 3)).astype(np.float32)
    content = rng.uniform(0, 255, (24, 28, 3)).astype(np.float32)
    grams = losses.style_grams(net, [style], [1.0], layers)
    objective = losses.Objective(net, "block2_conv1", grams, losses.LossWeights(1.0, 10.0, 1.0, 50.0))
    return objective, content, FrameTargets(losses.content_target(net, content, "block2_conv1"))
