"""What a shot's first frame pays before its evaluations run at full speed: the first call at each size.

    python benchmarks/first_calls.py --size 192
    PYTHONPATH=OTHER_CHECKOUT python benchmarks/first_calls.py --size 192   # an earlier revision, same machine

For each level of a shot's first frame (``multiscale.SHOT``), coarsest first, as the pipeline meets them:
the content target and the value-and-gradient call, and at full size the forward-only call (which judges
warm frames and finished pictures), each timed on its first call (tracing and the level's style targets
included) and as the median of later calls. "Beyond" is the first call's excess over a later one:
what tracing costs that size. A compiled call traced for every size pays it at the first level only.

    python benchmarks/first_calls.py --size 512 --interleaved 16

With ``--interleaved N`` (TensorFlow), the full-size value-and-gradient call is then timed N times against a
graph traced for that size alone with the style targets as constants (what each level had before one trace
served all), the two alternating call by call and order swapping each round: does a graph of unknown size
cost anything per evaluation?
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _timed(call, repeat: int) -> tuple[float, float]:
    """(first call, median of ``repeat`` later calls) in seconds, each until its result is on the host."""
    times = []
    for _ in range(repeat + 1):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return times[0], float(np.median(times[1:]))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=192)
    ap.add_argument("--style", type=Path, default=ROOT / "samples" / "starry_night.jpg")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--interleaved", type=int, default=0)
    args = ap.parse_args()

    from keras import ops

    from stylizer import compute, engine
    from stylizer.optimize import FrameTargets, multiscale
    from stylizer.settings import Settings

    compute.configure_device("auto")
    settings = Settings(size=args.size)
    start = time.perf_counter()
    stylizer = engine.Stylizer(settings, engine.load_styles([args.style], ()))
    print(f"network and weights: {time.perf_counter() - start:.2f} s")
    h, w = engine.working_shape(3 * args.size // 4, args.size, args.size)  # a 4:3 frame
    rng = np.random.default_rng(0)
    print(f"{'level':>9} {'call':<18} {'first s':>8} {'later s':>8} {'beyond s':>9}")
    beyond = 0.0
    levels = multiscale.levels(h, w, settings.cold_iterations, schedule=multiscale.SHOT)
    for shape, _ in levels:
        content = rng.uniform(0, 255, (*shape, 3)).astype(np.float32)
        image = content[None]
        target = []
        calls = {
            "content target": lambda: target.append(stylizer.content_target(content)),
            "value and gradient": lambda: ops.convert_to_numpy(
                stylizer.value_and_grad(shape)(image, *FrameTargets(target[0]).arrays(content.shape))[1]),
            "forward only": lambda: stylizer.value(shape)(image, *FrameTargets(target[0]).arrays(content.shape)),
        }
        if shape != levels[-1][0]:
            del calls["forward only"]
        for name, call in calls.items():
            first, later = _timed(call, args.repeat)
            beyond += first - later
            print(f"{shape[0]:>4}x{shape[1]:<4} {name:<18} {first:8.3f} {later:8.3f} {first - later:9.3f}", flush=True)
    print(f"first calls beyond later ones, all levels: {beyond:.2f} s")
    if args.interleaved:
        _interleaved(stylizer, levels[-1][0], args.interleaved)


def _interleaved(stylizer, shape: tuple[int, int], rounds: int) -> None:
    import tensorflow as tf

    from stylizer import losses
    from stylizer.optimize import FrameTargets

    s = stylizer.settings
    run_call = stylizer.value_and_grad(shape)
    grams = {name: gram.numpy() for name, gram in run_call.keywords["grams"].items()}
    objective = losses.Objective(stylizer.extractor, s.content_layer, grams,
                                 losses.LossWeights(s.content_weight, s.style_weight, s.tv_weight, s.temporal_weight),
                                 dict(zip(s.style_layers, s.style_layer_weights)))

    @tf.function(autograph=False)
    def sized(image, content_target, temporal_target, temporal_mask):
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch(image)
            loss, _ = objective(image, content_target, temporal_target, temporal_mask)
        return tape.gradient(loss, image)

    content = np.random.default_rng(1).uniform(0, 255, (*shape, 3)).astype(np.float32)
    image = tf.constant(content[None])
    targets = [tf.constant(a) for a in FrameTargets(stylizer.content_target(content)).arrays(content.shape)]
    calls = {"one trace": lambda: run_call(image, *targets)[1].numpy(), "sized": lambda: sized(image, *targets).numpy()}
    for call in calls.values():
        call()
        call()
    times: dict[str, list[float]] = {name: [] for name in calls}
    for n in range(rounds):
        for name in (list(calls) if n % 2 == 0 else list(reversed(calls))):
            start = time.perf_counter()
            calls[name]()
            times[name].append(time.perf_counter() - start)
    ratio = np.array(times["one trace"]) / np.array(times["sized"])
    for name, values in times.items():
        print(f"{shape[0]}x{shape[1]} {name:<10} median {1000 * np.median(values):.1f} ms")
    print(f"one trace / sized, per round: median {np.median(ratio):.3f} (range {ratio.min():.3f}-{ratio.max():.3f})")


if __name__ == "__main__":
    main()
