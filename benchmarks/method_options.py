"""--pooling and --style-layer-weights by measures the optimiser does not see.

Each photo:painting pair is stylised once per variant (a cold image, coarse-to-fine, at --size), in this
process, and scored with stylizer.metrics.IndependentFeatures (other VGG16 layers, max pooling, a fixed
side): style distance to the painting, content distance to the photo, and sharpness against the photo.

    python benchmarks/method_options.py --size 256 PHOTO:PAINTING [PHOTO:PAINTING ...]

Prints one JSON line per image, then per variant the medians and their ratios to the defaults.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np

VARIANTS = {
    "default": {},
    "avg pooling": {"pooling": "avg"},
    "deep layers x2": {"style_layer_weights": (0.5, 0.5, 1.0, 2.0, 2.0)},
    "shallow layers x2": {"style_layer_weights": (2.0, 2.0, 1.0, 0.5, 0.5)},
}


def main() -> None:
    from stylizer import engine
    from stylizer.io.readers import load_image
    from stylizer.metrics import IndependentFeatures, relative_sharpness
    from stylizer.settings import Settings

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("pairs", nargs="+", help="PHOTO:PAINTING")
    parser.add_argument("--size", type=int, default=256)
    args = parser.parse_args()

    meter = IndependentFeatures()
    rows = []
    for pair in args.pairs:
        photo_path, style_path = map(Path, pair.split(":"))
        photo = load_image(photo_path).rgb
        styles = engine.load_styles([style_path], ())
        content = engine.resize(photo, *engine.working_shape(*photo.shape[:2], args.size)).astype(np.float32)
        for name, options in VARIANTS.items():
            settings = Settings(size=args.size, **options)
            stylizer = engine.Stylizer(settings, styles)
            started = time.time()
            result = stylizer.stylize(content, settings.iterations)
            out = np.clip(np.rint(result.image), 0, 255).astype(np.uint8)
            d = meter.distances(out, style_image=styles.images[0], photo=content)
            row = {"photo": photo_path.name, "painting": style_path.name, "variant": name,
                   "style": round(d["style"], 4), "content": round(d["content"], 4),
                   "sharpness": round(relative_sharpness(out, content), 3), "iterations": result.iterations,
                   "seconds": round(time.time() - started, 1)}
            rows.append(row)
            print(json.dumps(row), flush=True)
    print("\nmedians (ratio to the defaults)")
    for name in VARIANTS:
        cells = []
        for key in ("style", "content", "sharpness", "seconds"):
            value = statistics.median(r[key] for r in rows if r["variant"] == name)
            base = statistics.median(r[key] for r in rows if r["variant"] == "default")
            cells.append(f"{key} {value:.3f} ({value / base:.2f}x)")
        print(f"  {name:18s} " + "  ".join(cells))


if __name__ == "__main__":
    main()
