"""Independent style and content distances of a cold image after every 5 iterations, in one run per pair.

Where does a photo stop getting better by measures the optimiser does not see? Every accepted iterate of
the last (full-size) level is snapshotted (the trial point the optimiser last evaluated before it counts an
iteration is the accepted one), and scored afterwards with stylizer.metrics.IndependentFeatures (other VGG16
layers at a fixed side). A run with budget N follows the same trajectory as this one up to N, so the curve
says what any smaller full-size budget would have given.

    python benchmarks/cold_curve.py --size 192 PHOTO:STYLE [PHOTO:STYLE ...]
    python benchmarks/cold_curve.py --size 192 --optimizer scipy --no-coarse-to-fine PHOTO:STYLE
    python benchmarks/cold_curve.py --size 192 --min-side 64 PHOTO:STYLE    # coarse-to-fine below 256 px

Prints one JSON line per snapshot (photo, painting, n = iterations over all levels, style, content) and a
line per pair with its evaluations and seconds.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np


class Snapshots:
    """A progress bar stand-in: on each counted iteration, keeps the image last evaluated at full size."""

    def __init__(self, shape: tuple[int, int], every: int, last: dict):
        self.total, self.count, self.shape, self.every, self.last = 0, 0, shape, every, last
        self.images: list[tuple[int, np.ndarray]] = []

    def refresh(self) -> None:
        pass

    def set_postfix(self, **_kwargs) -> None:
        pass

    def update(self, n: int) -> None:
        self.count += n
        image = np.asarray(self.last["image"])[0]
        if image.shape[:2] == self.shape and self.count % self.every == 0:
            self.images.append((self.count, image.copy()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pairs", nargs="+", help="PHOTO:STYLE")
    parser.add_argument("--size", type=int, default=192)
    parser.add_argument("--optimizer", default="lbfgs")
    parser.add_argument("--no-coarse-to-fine", action="store_false", dest="coarse_to_fine")
    parser.add_argument("--min-side", type=int, help="multiscale.MIN_SIDE for this run")
    parser.add_argument("--every", type=int, default=5)
    args = parser.parse_args()

    from stylizer import engine, metrics, weights
    from stylizer.io.readers import load_image
    from stylizer.optimize import multiscale
    from stylizer.settings import Settings

    if args.min_side:
        multiscale.MIN_SIDE = args.min_side
    params = weights.load_weights()
    meter = metrics.IndependentFeatures(params)
    settings = Settings(size=args.size, optimizer=args.optimizer, coarse_to_fine=args.coarse_to_fine).resolved()
    for pair in args.pairs:
        photo_path, style_path = pair.split(":")
        stylizer = engine.Stylizer(settings, engine.load_styles([Path(style_path)], ()), params)
        photo = load_image(Path(photo_path)).rgb
        shape = engine.working_shape(*photo.shape[:2], args.size)
        content = engine.resize(photo.astype(np.float32), *shape)
        last: dict = {}
        inner = stylizer.value_and_grad

        def recording(level_shape, *options, inner=inner, last=last):
            evaluate = inner(level_shape, *options)

            def call(image, *targets, **options):
                last["image"] = image
                return evaluate(image, *targets, **options)

            return call

        stylizer.value_and_grad = recording
        snapshots = Snapshots(shape, args.every, last)
        start = time.perf_counter()
        result = stylizer.stylize(content, settings.iterations, progress=snapshots)
        seconds = time.perf_counter() - start
        painting = load_image(Path(style_path)).rgb
        for n, image in snapshots.images:
            scores = meter.distances(image, style_image=painting, photo=photo)
            print(json.dumps({"photo": Path(photo_path).name, "painting": Path(style_path).name, "n": n, **scores}),
                  flush=True)
        print(json.dumps({"photo": Path(photo_path).name, "evaluations": result.evaluations, "work": result.work,
                          "seconds": round(seconds, 1), "stop": result.stop}), flush=True)


if __name__ == "__main__":
    main()
