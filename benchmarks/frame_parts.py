"""Where a warm frame's wall time goes: its evaluations, the content target, the optimiser's own steps.

    python benchmarks/frame_parts.py --size 512 --frames 3

A warm-like frame as the pipeline runs it (``iteration.warm_frame``), repeated; every compiled call it
makes is timed until its result is on the host, so the parts add up to the frame (what is left is Python). On a machine whose speed moves between
runs this says more than a frame's time over a bare evaluation timed at another moment
(``benchmarks/iteration.py``'s "frame+"): both sides here are the same frame.
"""

from __future__ import annotations

import argparse
import collections
import importlib
import os
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--frames", type=int, default=3)
    ap.add_argument("--precision", default="auto")
    args = ap.parse_args()

    from iteration import warm_frame  # the frame benchmarks/iteration.py's "frame+" times
    from keras import ops

    from stylizer import compute, engine
    from stylizer.io.readers import load_image
    from stylizer.settings import Settings

    lbfgs_module = importlib.import_module("stylizer.optimize.lbfgs")
    compute.keep_freed_memory()  # as the command line does
    spent: dict[str, list[float]] = collections.defaultdict(list)

    def timed(name, fn):
        def call(*a, **k):
            start = time.perf_counter()
            out = fn(*a, **k)
            first = out[0] if isinstance(out, tuple) else out
            ops.convert_to_numpy(ops.reshape(first, (-1,))[:1])  # wait for the result, read one value
            spent[name].append(time.perf_counter() - start)
            return out
        return call

    compiled = lbfgs_module._compiled
    lbfgs_module._compiled = lambda name, fn: timed(name, compiled(name, fn))
    stylizer = engine.Stylizer(Settings(size=args.size, precision=args.precision),
                               engine.load_styles([ROOT / "samples/starry_night.jpg"], ()))
    value_and_grad = stylizer.value_and_grad
    stylizer.value_and_grad = lambda *a, **k: timed("evaluation", value_and_grad(*a, **k))
    stylizer._content_features = timed("content target", stylizer._content_features)

    photo = load_image(ROOT / "samples/chelsea.jpg").rgb
    content = engine.resize(photo, args.size, args.size).astype(np.float32)
    near = stylizer.stylize(content, 8).image
    warm_frame(stylizer, content, near)  # traces every call at this size
    spent.clear()
    start = time.perf_counter()
    for _ in range(args.frames):
        result = warm_frame(stylizer, content, near)
    total = (time.perf_counter() - start) / args.frames

    evaluations = sum(spent["evaluation"]) / args.frames
    print(f"{args.size} px, {stylizer.settings.resolved().precision}: a warm-like frame takes {1000 * total:.0f} ms, "
          f"{result.evaluations} evaluations, {result.iterations} iterations (mean of {args.frames} frames)")
    print(f"{'part':<16} {'calls':>6} {'median ms':>10} {'ms/frame':>9} {'of evaluations':>15}")
    for name, times in spent.items():
        per_frame = sum(times) / args.frames
        print(f"{name:<16} {len(times) / args.frames:6.1f} {1000 * np.median(times):10.1f} "
              f"{1000 * per_frame:9.0f} {per_frame / evaluations:15.1%}")
    rest = total - sum(sum(t) for t in spent.values()) / args.frames
    print(f"{'rest (Python)':<16} {'':>6} {'':>10} {1000 * rest:9.0f} {rest / evaluations:15.1%}")
    print(f"frame over its evaluations: +{total / evaluations - 1:.1%}")


if __name__ == "__main__":
    main()
