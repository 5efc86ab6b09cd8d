"""Tiled optimisation (--memory below what one evaluation of the picture needs) against the whole picture.

Each photo is stylised twice through the command line, each in its own child process (so that each peak
RSS is its own): with ``--memory GIB`` so small that the finest level runs in overlapping tiles, then whole.
Both are scored by measures the optimiser does not see: the style distance to the painting and the content
distance to the photo on other VGG16 layers (metrics.IndependentFeatures), detail (the output's mean
squared Laplacian over the photo's), and detail in the seams' feathered bands over detail elsewhere in the
same output (a blurred or doubled seam lowers it; the whole picture's own figure, in the same bands, is the
reference).

    python benchmarks/tiles.py --size 1024 --memory 1.5 [--keep DIR] PHOTO:PAINTING [PHOTO:PAINTING ...]

Prints one JSON line per run and, per photo, tiled / whole ratios.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np


def seam_bands(layout, shape: tuple[int, int]) -> np.ndarray:
    """True on the feathered overlaps of a tile layout (in the output's pixels)."""
    band = np.zeros(shape, bool)
    for tile in layout:
        if tile.top:
            band[tile.y:tile.y + tile.top, tile.x:tile.x + tile.width] = True
        if tile.left:
            band[tile.y:tile.y + tile.height, tile.x:tile.x + tile.left] = True
    return band


def main() -> None:
    from stylizer import engine
    from stylizer.io.readers import load_image
    from full_size import run  # the same child-process run, with its own peak RSS
    from stylizer.metrics import IndependentFeatures, relative_sharpness, sharpness
    from stylizer.settings import FULL, Settings

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("pairs", nargs="+", help="PHOTO:PAINTING")
    parser.add_argument("--size", default="1024", help="--size of both runs (a number or full)")
    parser.add_argument("--memory", type=float, default=1.5, help="--memory of the tiled run, GiB")
    parser.add_argument("--keep", type=Path, help="keep the outputs in this folder (to look at the seams)")
    args = parser.parse_args()

    meter = IndependentFeatures()
    layers = Settings().layers_in_use
    with tempfile.TemporaryDirectory(prefix="stylizer-tiles-") as scratch:
        if args.keep:
            args.keep.mkdir(parents=True, exist_ok=True)
            scratch = args.keep
        for pair in args.pairs:
            photo_path, painting_path = map(Path, pair.split(":"))
            photo = load_image(photo_path).rgb
            painting = load_image(painting_path).rgb
            size = FULL if args.size == "full" else int(args.size)
            h, w = engine.working_shape(*photo.shape[:2], size)
            layout = engine.tile_layout(h, w, layers, int(args.memory * 2**30))
            band = seam_bands(layout, (h, w))
            band = engine.resize(band.astype(np.uint8), *photo.shape[:2]).astype(bool)
            rows = {}
            # Tiled first: a child's peak RSS is known only while it is the largest so far.
            for name, extra in (("tiled", ["--memory", str(args.memory)]), ("whole", [])):
                out = Path(scratch) / f"{photo_path.stem}.{name}.png"
                seconds, peak = run(photo_path, painting_path, args.size, out, extra)
                image = load_image(out).rgb
                d = meter.distances(image, style_image=painting, photo=photo)
                rows[name] = {"photo": photo_path.name, "run": name, "tiles": len(layout) if extra else 1,
                              "seconds": round(seconds, 1), "peak_gib": round(peak, 2),
                              "style": round(d["style"], 4), "content": round(d["content"], 4),
                              "detail": round(relative_sharpness(image, photo), 3),
                              "seam_detail": round(sharpness(image, band) / sharpness(image, ~band), 3)}
                print(json.dumps(rows[name]), flush=True)
            whole, tiled = rows["whole"], rows["tiled"]
            print(f"{photo_path.name} {w}x{h}, {len(layout)} tiles of {layout[0].width}x{layout[0].height}: "
                  + "  ".join(f"{k} {tiled[k] / whole[k]:.3f}x" for k in
                              ("seconds", "peak_gib", "style", "content", "detail", "seam_detail")), flush=True)


if __name__ == "__main__":
    main()
