"""The written-out input gradients (stylizer.gradients) against the ones TensorFlow's tape derives.

    python benchmarks/gradients.py --sizes 256 512

Per operation (each 3x3 convolution of VGG16 up to block5_conv1, each 2x2 max pooling, each style layer's
Gram matrix, at the spatial size it has for the given image size): ms of the operation and its input
gradient, built plainly (the tape derives the gradient, as before 7dcb975) and with the written-out one, with
random inputs. Then one whole evaluation at default settings (loss and gradient at each size, float32 or
--precision), both variants in one process, alternating ABAB so that the machine's drift hits both, medians;
the two gradients are compared, and the rate is given against TensorFlow's matmul peak measured in the same
run (benchmarks/iteration.py).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import time
from pathlib import Path

import numpy as np
from iteration import conv_gflop, matmul_peak, median_seconds

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def median_ms(fn, repeat: int) -> float:
    return 1000 * median_seconds(fn, repeat)


def with_gradient(op):
    """A compiled call returning the sum of op(x) and its gradient with respect to x."""
    import tensorflow as tf

    @tf.function
    def call(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = tf.reduce_sum(op(x))
        return y, tape.gradient(y, x)

    return lambda x: [v.numpy() for v in call(x)]


def per_operation(size: int, repeat: int) -> None:
    import tensorflow as tf

    from stylizer import gradients
    from stylizer.engine import WIDTHS
    from stylizer.settings import ALL_LAYERS, Settings

    rng = np.random.default_rng(0)
    rows = []
    convs, cin = [], 3
    for name in ALL_LAYERS[: ALL_LAYERS.index(Settings().layers_in_use[-1]) + 1]:  # up to the default's deepest
        block = int(name[len("block")])
        convs.append((block, cin, WIDTHS[block]))
        cin = WIDTHS[block]
    for block, cin, cout in convs:
        side = size >> (block - 1)
        kernel = tf.constant(rng.normal(0, 0.05, (3, 3, cin, cout)).astype(np.float32))
        bias = tf.constant(np.zeros(cout, np.float32))
        turned = tf.constant(gradients.turned(kernel.numpy()))
        x = tf.constant(rng.normal(size=(1, side, side, cin)).astype(np.float32))
        plain = with_gradient(lambda v: tf.nn.relu(tf.nn.conv2d(v, kernel, 1, "SAME") + bias))
        ours = with_gradient(lambda v: gradients.conv3x3_relu(v, kernel, bias, turned))
        rows.append((f"conv {cin}->{cout}", side, median_ms(lambda: plain(x), repeat), median_ms(lambda: ours(x), repeat)))
    for block, channels in ((1, 64), (2, 128), (3, 256), (4, 512)):
        side = size >> (block - 1)
        x = tf.constant(rng.normal(size=(1, side, side, channels)).astype(np.float32))
        plain = with_gradient(lambda v: tf.nn.max_pool2d(v, 2, 2, "VALID"))
        ours = with_gradient(gradients.max_pool2x2)
        rows.append((f"max pool {channels}", side, median_ms(lambda: plain(x), repeat), median_ms(lambda: ours(x), repeat)))
    for block, channels in ((1, 64), (2, 128), (3, 256), (4, 512), (5, 512)):
        side = size >> (block - 1)
        f = tf.constant(rng.normal(size=(side * side, channels)).astype(np.float32))
        plain = with_gradient(lambda v: tf.matmul(tf.transpose(v), v) / float(side * side))
        ours = with_gradient(gradients.gram)
        rows.append((f"gram {channels}", side, median_ms(lambda: plain(f), repeat), median_ms(lambda: ours(f), repeat)))
    print(f"\n{size} px: each operation and its input gradient, ms (medians of {repeat})")
    print(f"{'operation':>16} {'side':>5} {'tape':>8} {'written':>8} {'ratio':>6}")
    for name, side, a, b in rows:
        print(f"{name:>16} {side:5d} {a:8.1f} {b:8.1f} {b / a:6.2f}")
    a, b = sum(r[2] for r in rows), sum(r[3] for r in rows)
    print(f"{'all':>16} {'':5} {a:8.1f} {b:8.1f} {b / a:6.2f}")


def whole_evaluation(size: int, precision: str, repeat: int) -> None:
    from stylizer import engine, gradients
    from stylizer.io.readers import load_image
    from stylizer.optimize import FrameTargets
    from stylizer.settings import Settings

    settings = Settings(size=size, precision=precision)
    styles = engine.load_styles([ROOT / "samples/starry_night.jpg"], ())
    content = engine.resize(load_image(ROOT / "samples/chelsea.jpg").rgb, size, size).astype(np.float32)
    image = np.clip(content + np.random.default_rng(1).normal(0, 20, content.shape), 0, 255).astype(np.float32)
    calls, grads = {}, {}
    for name in ("tape", "written"):
        with gradients.tape_derived() if name == "tape" else contextlib.nullcontext():
            stylizer = engine.Stylizer(settings, styles)
            vg = stylizer.value_and_grad((size, size))
            args = FrameTargets(stylizer.content_target(content)).arrays(content.shape)
            grads[name] = np.asarray(vg(image[None], *args)[1], np.float64)  # traced here, inside the block
        calls[name] = (lambda vg=vg, args=args: np.asarray(vg(image[None], *args)[1]))
    times = {name: [] for name in calls}
    for round_ in range(repeat):
        for name in (("tape", "written") if round_ % 2 == 0 else ("written", "tape")):
            start = time.perf_counter()
            calls[name]()
            times[name].append(time.perf_counter() - start)
    peak = matmul_peak(precision)
    gflop = conv_gflop(size, size, settings.layers_in_use)
    a, b = (statistics.median(times[n]) for n in ("tape", "written"))
    diff = np.abs(grads["written"] - grads["tape"]).sum() / np.abs(grads["tape"]).sum()
    print(f"\n{size} px, {precision}: one evaluation, {gflop:.1f} GFLOP of convolutions; matmul peak {peak:.1f} GFLOP/s")
    print(f"  tape-derived gradients: {1000 * a:8.1f} ms  {gflop / a:6.1f} GFLOP/s  {gflop / a / peak:6.1%} of peak")
    print(f"  written-out gradients:  {1000 * b:8.1f} ms  {gflop / b:6.1f} GFLOP/s  {gflop / b / peak:6.1%} of peak")
    print(f"  ratio {b / a:.3f}; gradients differ by {diff:.2e} (L1, relative)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    ap.add_argument("--precision", default="float32", choices=["float32", "bfloat16"])
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--skip-operations", action="store_true")
    args = ap.parse_args()
    from stylizer import compute

    compute.keep_freed_memory()  # as the command line does
    for size in args.sizes:
        if not args.skip_operations:
            per_operation(size, args.repeat)
        whole_evaluation(size, args.precision, args.repeat)


if __name__ == "__main__":
    main()
