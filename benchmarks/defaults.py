"""How the style weight trades the subject against the style, on several photo/painting pairs.

For each pair and style weight, from a content init at --size px for --iterations L-BFGS iterations, prints:
  content_rel  ||F(x) - F(photo)|| / ||F(photo)|| at block4_conv2 (above ~0.9 the subject starts to dissolve)
  style_fall   initial style loss / final style loss (how far the Gram statistics moved to the painting's)
The default style weight in stylizer/settings.py is the one that keeps content_rel well below 1 while the
style loss falls by one to two orders of magnitude.

    python benchmarks/defaults.py --size 256 --iterations 100 --weights 3 10 30
Paintings from ../shared/styles are used when present (development only), else samples/starry_night.jpg.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from stylizer import engine
from stylizer.io.readers import load_image
from stylizer.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def pairs() -> list[tuple[Path, Path]]:
    photos = [ROOT / "samples/chelsea.jpg", ROOT / "samples/photos/coffee.jpg", ROOT / "samples/photos/astronaut.jpg"]
    shared = ROOT.parent / "shared/styles"
    styles = [shared / n for n in ("munch_the_scream.jpg", "hokusai_great_wave.jpg")]
    styles = [ROOT / "samples/starry_night.jpg"] + [s for s in styles if s.is_file()]
    return [(photos[i], styles[i % len(styles)]) for i in range(len(photos))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--iterations", type=int, default=100)
    ap.add_argument("--weights", type=float, nargs="+", default=[3.0, 10.0, 30.0])
    args = ap.parse_args()
    print(f"{'pair':40s} {'style_w':>8s} {'content_rel':>11s} {'style_fall':>10s}")
    for photo, painting in pairs():
        styles = engine.load_styles([painting], ())
        content = load_image(photo).rgb
        h, w = engine.working_shape(*content.shape[:2], args.size)
        content = engine.resize(content, h, w).astype(np.float32)
        for weight in args.weights:
            s = Settings(size=args.size, style_weight=weight)
            st = engine.Stylizer(s, styles)
            target = st.content_target(content)
            start_style = st.loss_parts(content, content)["style"]
            result = st.stylize(content, args.iterations)
            feats = st.content_target(result.image)
            rel = float(np.linalg.norm(feats - target) / np.linalg.norm(target))
            fall = start_style / max(result.parts["style"], 1e-12)
            print(f"{photo.name + ' / ' + painting.name:40s} {weight:8.0e} {rel:11.3f} {fall:10.1f}", flush=True)


if __name__ == "__main__":
    main()
