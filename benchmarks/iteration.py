"""Cost of one loss+gradient evaluation against this machine's own matrix-product peak.

For each size: ms per evaluation of the bare compiled call and of an evaluation inside each optimiser's loop
(the projected L-BFGS, the default; scipy's L-BFGS-B, the reference), their ratios to the bare call, the
overhead of a whole warm-like frame as the pipeline runs it ("frame+": wall time over its evaluations at the
bare call's cost, minus one), effective GFLOP/s (convolution FLOPs forward plus backward-to-input, counted
below) and the ratio to the backend's own matrix-product peak in the same precision, measured in the same
process.
Each size runs in a fresh process so that its peak resident memory can be reported.

    python benchmarks/iteration.py                      # float32 at 256, 512, 1024 px
    python benchmarks/iteration.py --precision both     # float32 and bfloat16 side by side
Medians of --repeat timed evaluations after --warmup untimed ones.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def conv_gflop(height: int, width: int, layers: tuple[str, ...]) -> float:
    """Forward + backward-to-input FLOPs of VGG16's convolutions up to the deepest layer in ``layers``.
    Each 3x3 convolution costs 2*H*W*9*Cin*Cout forward and the same again for the input gradient; the
    weights are fixed, so no weight gradient is computed."""
    from stylizer.settings import ALL_LAYERS

    widths = {1: 64, 2: 128, 3: 256, 4: 512, 5: 512}
    deepest = max(ALL_LAYERS.index(name) for name in layers)
    flops, cin, h, w, block = 0.0, 3, height, width, 1
    for name in ALL_LAYERS[: deepest + 1]:
        b = int(name[5])
        if b != block:
            h, w, block = h // 2, w // 2, b
        cout = widths[b]
        flops += 2 * 2 * h * w * 9 * cin * cout
        cin = cout
    return flops / 1e9


def median_seconds(fn, repeat: int, warmup: int = 2) -> float:
    """Median wall time of ``repeat`` calls of ``fn`` (each returning only once its result is ready) after
    ``warmup`` untimed ones."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def matmul_peak(dtype: str, sizes: tuple[int, ...] = (2048, 4096), warmup: int = 3, repeat: int = 7) -> float:
    """GFLOP/s of the Keras backend's own n^3 matrix product (oneDNN/Eigen on a CPU, cuBLAS on a GPU) in
    ``dtype``: the peak an evaluation in that precision is compared with, the best of ``sizes``. (numpy's
    BLAS is not the reference: its kernels depend on OPENBLAS_CORETYPE, and the network never runs through
    it.) Several untimed calls first: on this CPU the first few products after tracing ran at half speed,
    so a median over five calls after one untimed call reported half the peak (189 against 394 GFLOP/s)."""
    from stylizer import compute
    from keras import ops

    # The whole product reduced to one float32 (numpy has no bfloat16 scalar): a single element read back
    # would leave the product's cost to what the graph optimiser keeps of it.
    product = compute.compile_function(lambda x: ops.sum(ops.cast(ops.matmul(x, x), "float32")))
    best = 0.0
    for n in sizes:
        a = ops.cast(ops.convert_to_tensor(np.random.default_rng(0).standard_normal((n, n), dtype=np.float32)), dtype)
        seconds = median_seconds(lambda: ops.convert_to_numpy(product(a)), repeat, warmup)
        best = max(best, 2 * n**3 / seconds / 1e9)
    return best


def warm_frame(stylizer, content: np.ndarray, near: np.ndarray):
    """A warm-like frame as the pipeline runs it: content target, a start near the answer, the temporal term
    on, 5 iterations at most."""
    mask = np.ones(content.shape[:2], np.float32)
    return stylizer.stylize(content, 5, init=near, temporal=near, mask=mask)


def measure(size: int, precision: str, warmup: int, repeat: int, iterations: int, xla: bool) -> dict:
    from stylizer import compute, engine
    from stylizer.io.readers import load_image
    from stylizer.optimize import FrameTargets, StopRule, lbfgs, lbfgsb_scipy
    from stylizer.settings import Settings

    compute.keep_freed_memory()  # as the command line does

    settings = Settings(size=size, precision=precision)
    styles = engine.load_styles([ROOT / "samples/starry_night.jpg"], ())
    stylizer = engine.Stylizer(settings, styles, jit_compile=xla)
    photo = load_image(ROOT / "samples/chelsea.jpg").rgb
    # A square working image at exactly `size` px, so the figures mean the same across runs.
    content = engine.resize(photo, size, size).astype(np.float32)
    vg = stylizer.value_and_grad((size, size))
    target = stylizer.content_target(content)
    args = FrameTargets(target).arrays(content.shape)
    x = content[None]
    bare_s = median_seconds(lambda: vg(x, *args), repeat, warmup)
    rule = StopRule(iterations, tolerance=0)
    # Each optimiser over a whole run: time per evaluation (the loop's own cost included) and final losses.
    runs = {}
    for name, optimise, host in (("lbfgs", lbfgs, False), ("scipy", lbfgsb_scipy, True)):
        st = stylizer if not host else engine.Stylizer(settings.replace(optimizer="scipy"), styles, jit_compile=xla)
        f = st.value_and_grad((size, size))
        optimise(f, content, FrameTargets(target), StopRule(2, tolerance=0))  # trace the loop's own steps
        t = time.perf_counter()
        result = optimise(f, content, FrameTargets(target), rule)
        runs[name] = ((time.perf_counter() - t) / result.evaluations, result)
    # A whole warm-like frame (warm_frame): its wall time against the evaluations it made, each at the bare
    # call's cost. The median of `repeat` frames, each timed with the bare call right after it: one frame
    # against a bare median taken minutes earlier moved by 1-20% between runs on a noisy machine.
    near = runs["lbfgs"][1].image
    overheads = []
    for _ in range(repeat):
        t = time.perf_counter()
        frame = warm_frame(stylizer, content, near)
        frame_s = time.perf_counter() - t
        t = time.perf_counter()
        vg(x, *args)
        overheads.append(frame_s / (frame.evaluations * (time.perf_counter() - t)) - 1)
    gflop = conv_gflop(size, size, settings.layers_in_use)
    return {
        "size": size, "precision": precision + ("+xla" if xla else ""), "gflop": gflop,
        "bare_ms": 1000 * bare_s, "lbfgs_ms": 1000 * runs["lbfgs"][0], "scipy_ms": 1000 * runs["scipy"][0],
        "frame_overhead": statistics.median(overheads),
        "final_style": runs["lbfgs"][1].parts["style"], "final_content": runs["lbfgs"][1].parts["content"],
        "scipy_style": runs["scipy"][1].parts["style"], "scipy_content": runs["scipy"][1].parts["content"],
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "peak_gflops": matmul_peak(precision),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[256, 512, 1024])
    ap.add_argument("--precision", choices=["float32", "bfloat16", "both"], default="float32")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--iterations", type=int, default=30, help="L-BFGS iterations (final losses compared)")
    ap.add_argument("--xla", action="store_true", help="also measure jit_compile=True (XLA) per precision")
    ap.add_argument("--child", type=str, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        size, precision, xla = args.child.split(":")
        print(json.dumps(measure(int(size), precision, args.warmup, args.repeat, args.iterations, xla == "1")))
        return

    precisions = ["float32", "bfloat16"] if args.precision == "both" else [args.precision]
    variants = [(p, x) for p in precisions for x in ([False, True] if args.xla else [False])]
    print("peak: the backend's own matrix product (best of 2048^3 and 4096^3) in the same precision, measured in the same process")
    print(f"{'size':>5} {'variant':>12} {'GFLOP':>7} {'bare ms':>8} {'lbfgs ms':>9} {'lbfgs/bare':>10} "
          f"{'scipy/bare':>10} {'frame+':>7} {'GFLOP/s':>8} {'peak':>6} {'of peak':>7} {'style':>8} "
          f"{'content':>8} {'scipy st':>8} {'RSS MB':>7}")
    rows = {}
    for size in args.sizes:
        for precision, xla in variants:
            cmd = [sys.executable, __file__, "--child", f"{size}:{precision}:{int(xla)}",
                   "--warmup", str(args.warmup), "--repeat", str(args.repeat), "--iterations", str(args.iterations)]
            out = subprocess.run(cmd, capture_output=True, text=True)
            if out.returncode != 0:
                print(f"{size:5d} {precision:>12} failed: {(out.stderr.strip().splitlines() or ['?'])[-1]}")
                continue
            r = json.loads(out.stdout.strip().splitlines()[-1])
            rows[(size, r["precision"])] = r
            gflops = r["gflop"] / (r["bare_ms"] / 1000)
            print(f"{size:5d} {r['precision']:>12} {r['gflop']:7.1f} {r['bare_ms']:8.1f} {r['lbfgs_ms']:9.1f} "
                  f"{r['lbfgs_ms'] / r['bare_ms']:10.3f} {r['scipy_ms'] / r['bare_ms']:10.3f} "
                  f"{r['frame_overhead']:7.1%} {gflops:8.1f} {r['peak_gflops']:6.0f} "
                  f"{gflops / r['peak_gflops']:7.1%} {r['final_style']:8.4f} {r['final_content']:8.4f} "
                  f"{r['scipy_style']:8.4f} {r['peak_rss_mb']:7.0f}", flush=True)
    for size in args.sizes:
        if (size, "float32") in rows and (size, "bfloat16") in rows:
            a, b = rows[(size, "float32")], rows[(size, "bfloat16")]
            print(f"{size} px: bfloat16 {a['bare_ms'] / b['bare_ms']:.2f}x faster; final style "
                  f"{b['final_style'] / a['final_style'] - 1:+.1%}, content {b['final_content'] / a['final_content'] - 1:+.1%}"
                  f" vs float32 after {args.iterations} iterations")


if __name__ == "__main__":
    main()
