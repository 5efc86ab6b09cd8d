"""--preserve-colors: how much of the photo's colour each mode keeps, and how stylised its luminance is.

For every photo:painting pair, one image is made per mode (plain transfer, swap, luminance, histogram) at
the same settings, and measured by what the optimiser does not see:

- chroma: mean |Cr, Cb (output) - Cr, Cb (photo)|, in grey levels (OpenCV's YCrCb, 8 bit);
- luma style: the independent style distance (stylizer.metrics.IndependentFeatures: other VGG16 layers)
  between the output's luminance and the painting's (both as grey images), the painting's luma matched to
  the photo's mean and deviation as luminance transfer does (``luma style raw``: unmatched);
- content: the independent content distance to the photo.

    python benchmarks/colours.py --size 256 PHOTO:PAINTING [PHOTO:PAINTING ...]

Prints one JSON line per image, then the medians per mode and their ratios to the plain transfer.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import cv2
import numpy as np

MODES = (None, "swap", "luminance", "histogram")


def chroma_error(output: np.ndarray, photo: np.ndarray) -> float:
    a = cv2.cvtColor(output, cv2.COLOR_RGB2YCrCb).astype(float)[..., 1:]
    b = cv2.cvtColor(photo, cv2.COLOR_RGB2YCrCb).astype(float)[..., 1:]
    return float(np.abs(a - b).mean())


def main() -> None:
    from stylizer import colour, engine
    from stylizer.io.readers import load_image
    from stylizer.metrics import IndependentFeatures
    from stylizer.settings import Settings

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("pairs", nargs="+", help="PHOTO:PAINTING")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--iterations", type=int, default=100)
    args = parser.parse_args()

    meter = IndependentFeatures()
    rows = []
    for pair in args.pairs:
        photo_path, style_path = pair.split(":")
        photo = load_image(Path(photo_path)).rgb
        styles = engine.load_styles([Path(style_path)], ())
        h, w = engine.working_shape(*photo.shape[:2], args.size)
        content = engine.resize(photo, h, w)
        stats = colour.ColourStats.of([content])
        painting = styles.images[0]
        matched = colour.style_for(painting.astype(np.float32), "luminance", stats)
        raw = colour.grey(colour.luma(painting))
        for mode in MODES:
            settings = Settings(size=args.size, iterations=args.iterations, preserve_colors=mode)
            stylizer = engine.Stylizer(settings, styles)
            started = time.time()
            result = stylizer.stylize(content.astype(np.float32), settings.iterations)
            out = engine.finish(result.image, content, mode)
            grey_out = colour.grey(colour.luma(out))
            row = {
                "photo": Path(photo_path).name, "painting": Path(style_path).name, "mode": mode or "plain",
                "chroma": round(chroma_error(out, content), 2),
                "luma_style": round(meter.style_distance(grey_out, matched), 4),
                "luma_style_raw": round(meter.style_distance(grey_out, raw), 4),
                "content": round(meter.content_distance(out, content), 4),
                "seconds": round(time.time() - started, 1),
            }
            rows.append(row)
            print(json.dumps(row), flush=True)
    print("\nmedians (ratio to the plain transfer)")
    plain = [r for r in rows if r["mode"] == "plain"]
    for mode in MODES:
        mine = [r for r in rows if r["mode"] == (mode or "plain")]
        cells = []
        for key in ("chroma", "luma_style", "luma_style_raw", "content"):
            value = statistics.median(r[key] for r in mine)
            base = statistics.median(r[key] for r in plain)
            cells.append(f"{key} {value:.3f}" + ("" if key == "chroma" else f" ({value / base:.2f}x)"))
        print(f"  {mode or 'plain':10s} " + "  ".join(cells))


if __name__ == "__main__":
    main()
