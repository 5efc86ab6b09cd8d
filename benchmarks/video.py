"""Video: flicker, style and speed of the three temporal modes.

Part 1 runs the whole driver on the sample clip once per mode (--temporal flow / warm / none) and prints,
side by side: E_warp (Lai et al. 2018, flow on the input frames, occlusion-masked) of the output and of the
input itself (the floor), the mean per-frame style and content losses, seconds per frame for the first and
for later frames, and iterations per frame.

When a warm frame should stop is measured by benchmarks/warm_frames.py.

    python benchmarks/video.py --size 256 --frames 12
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from stylizer import driver, engine, metrics
from stylizer.evaluation import frame_losses
from stylizer.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
CLIP = ROOT / "samples/city.mp4"
STYLE = ROOT / "samples/starry_night.jpg"


def modes(settings: Settings, stylizer_for, frames: int, temporal_weights: list[float]) -> None:
    print(f"{'mode':>12} {'E_warp out':>10} {'E_warp in':>9} {'style':>8} {'content':>8} "
          f"{'s first':>8} {'s warm':>7} {'it/frame':>8}")
    runs = [("flow", w) for w in temporal_weights] + [("warm", None), ("none", None)]
    for mode, weight in runs:
        s = settings.replace(temporal=mode, max_frames=frames, quiet=True)
        if weight is not None:
            s = s.replace(temporal_weight=weight)
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "out.mp4"
            report = driver.run(s, CLIP, [STYLE], out, stylizer_factory=lambda: stylizer_for(s))
            flicker = metrics.evaluate_videos(CLIP, out, max_frames=frames)
            lossy = frame_losses(CLIP, out, [STYLE], s)
        first, warm = report.seconds[0], statistics.median(report.seconds[1:])
        label = mode if weight is None else f"flow tw={weight:g}"
        print(f"{label:>12} {flicker['ewarp_output']:10.5f} {flicker['ewarp_input']:9.5f} {lossy['style_loss']:8.4f} "
              f"{lossy['content_loss']:8.4f} {first:8.2f} {warm:7.2f} {np.mean(report.iterations):8.1f}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--frames", type=int, default=12)
    ap.add_argument("--cold-iterations", type=int, default=100)
    ap.add_argument("--temporal-weights", type=float, nargs="+", default=[Settings.temporal_weight],
                    help="flow mode once per temporal weight")
    args = ap.parse_args()
    settings = Settings(size=args.size, iterations=args.cold_iterations)
    styles = engine.load_styles([STYLE], ())
    cache: dict = {}

    def stylizer_for(s: Settings) -> engine.Stylizer:
        # One network per set of loss weights; the other settings (mode, budgets) come from each run.
        key = (s.temporal_weight, s.style_weight)
        if key not in cache:
            cache[key] = engine.Stylizer(s, styles)
        st = cache[key]
        st.settings = s
        return st

    t = time.time()
    modes(settings, stylizer_for, args.frames, args.temporal_weights)
    print(f"wall {time.time() - t:.0f} s")


if __name__ == "__main__":
    main()
