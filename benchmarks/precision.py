"""bfloat16 against float32 on several photo/painting pairs: final losses and independent distances.

Each pair is optimised cold with the run's defaults (coarse-to-fine, the projected L-BFGS) once per
precision; reported are the final content and style losses and, with measures the optimiser does not see
(stylizer.metrics.IndependentFeatures: other VGG16 layers, in float32), the style and content distances,
with the bf16/float32 ratios. On a CPU without native bf16 (no AVX512_BF16 or AMX) bf16 runs emulated and
slowly: the figures then speak of quality only.

    python benchmarks/precision.py --size 128 --pair samples/chelsea.jpg samples/starry_night.jpg \\
        --pair samples/photos/coffee.jpg other_painting.jpg
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pair", nargs=2, type=Path, action="append", metavar=("PHOTO", "STYLE"))
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--iterations", type=int, default=100)
    args = ap.parse_args()
    pairs = args.pair or [(ROOT / "samples/chelsea.jpg", ROOT / "samples/starry_night.jpg")]

    from stylizer import engine
    from stylizer.io.readers import load_image
    from stylizer.metrics import IndependentFeatures
    from stylizer.settings import Settings

    meter = IndependentFeatures()
    print(f"{'photo':>10} {'style':>14} {'precision':>9} {'content':>8} {'style':>8} {'ind style':>9} "
          f"{'ind content':>11} {'s':>6}")
    for photo_path, style_path in pairs:
        photo, style = load_image(photo_path).rgb, load_image(style_path).rgb
        content = engine.resize(photo, *engine.working_shape(*photo.shape[:2], args.size)).astype("float32")
        rows = {}
        for precision in ("float32", "bfloat16"):
            settings = Settings(size=args.size, iterations=args.iterations, precision=precision)
            stylizer = engine.Stylizer(settings, engine.load_styles([style_path], ()))
            started = time.perf_counter()
            result = stylizer.stylize(content, args.iterations)
            seconds = time.perf_counter() - started
            out = engine.finish(result.image, photo, False)
            d = meter.distances(out, style_image=style, photo=photo)
            rows[precision] = (result.parts["content"], result.parts["style"], d["style"], d["content"])
            print(f"{photo_path.stem:>10} {style_path.stem[:14]:>14} {precision:>9} {rows[precision][0]:8.4f} "
                  f"{rows[precision][1]:8.4f} {d['style']:9.4f} {d['content']:11.4f} {seconds:6.1f}", flush=True)
        ratios = [b / a for a, b in zip(rows["float32"], rows["bfloat16"])]
        print(f"{'':>10} {'':>14} {'bf16/f32':>9} " + " ".join(f"{r:8.3f}" for r in ratios))


if __name__ == "__main__":
    main()
