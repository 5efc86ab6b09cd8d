"""Cost of one loss+gradient evaluation against this machine's own matrix-product peak.

For each size: ms per evaluation of the bare compiled call and of an L-BFGS evaluation (the same call seen
through scipy: float64 conversion, bounds, two-loop recursion), their ratio, effective GFLOP/s (convolution
FLOPs forward plus backward-to-input, counted below) and the ratio to the peak measured in the same run.
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


def matmul_peak(n: int = 2048, repeat: int = 5) -> dict[str, float]:
    """float32 n^3 matrix products with numpy (OpenBLAS) and with the Keras backend (oneDNN, cuBLAS, XLA);
    the higher is the peak the evaluations are compared with."""
    from keras import backend, ops

    a = np.random.default_rng(0).standard_normal((n, n), dtype=np.float32)

    def gflops(product) -> float:
        times = []
        for _ in range(repeat + 1):
            t = time.perf_counter()
            product()
            times.append(time.perf_counter() - t)
        return 2 * n**3 / statistics.median(times[1:]) / 1e9

    ta = ops.convert_to_tensor(a)
    result = {"numpy": gflops(lambda: a @ a), backend.backend(): gflops(lambda: ops.convert_to_numpy(ops.matmul(ta, ta)[0, 0]))}
    result["peak"] = max(result.values())
    return result


def measure(size: int, precision: str, warmup: int, repeat: int, iterations: int, xla: bool) -> dict:
    from stylizer import engine, losses
    from stylizer.io.readers import load_image
    from stylizer.optimize import FrameTargets, lbfgs
    from stylizer.settings import Settings

    settings = Settings(size=size, precision=precision, optimizer="scipy")
    stylizer = engine.Stylizer(settings, engine.load_styles([ROOT / "samples/starry_night.jpg"], ()), jit_compile=xla)
    photo = load_image(ROOT / "samples/chelsea.jpg").rgb
    # A square working image at exactly `size` px, so the figures mean the same across runs.
    content = engine.resize(photo, size, size).astype(np.float32)
    vg = stylizer.value_and_grad((size, size))
    target = losses.content_target(stylizer.extractor, content, settings.content_layer)
    args = FrameTargets(target).arrays(content.shape)
    x = content[None]
    for _ in range(warmup):
        vg(x, *args)
    bare = []
    for _ in range(repeat):
        t = time.perf_counter()
        vg(x, *args)
        bare.append(time.perf_counter() - t)
    # L-BFGS: time per evaluation over a whole optimisation, whose final losses also compare precisions.
    t = time.perf_counter()
    result = lbfgs(vg, content, FrameTargets(target), iterations=iterations, tolerance=0)
    per_eval = (time.perf_counter() - t) / result.evaluations
    gflop = conv_gflop(size, size, settings.layers_in_use)
    return {
        "size": size, "precision": precision + ("+xla" if xla else ""), "gflop": gflop,
        "bare_ms": 1000 * statistics.median(bare), "lbfgs_ms": 1000 * per_eval,
        "final_style": result.parts["style"], "final_content": result.parts["content"],
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
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

    from stylizer.console import native_stderr_silenced

    with native_stderr_silenced():
        peak = matmul_peak()
    print("matmul peak (float32 2048^3): " + ", ".join(f"{k} {v:.0f} GFLOP/s" for k, v in peak.items() if k != "peak")
          + f" -> peak {peak['peak']:.0f} GFLOP/s")
    precisions = ["float32", "bfloat16"] if args.precision == "both" else [args.precision]
    variants = [(p, x) for p in precisions for x in ([False, True] if args.xla else [False])]
    print(f"{'size':>5} {'variant':>12} {'GFLOP':>7} {'bare ms':>8} {'lbfgs ms':>9} {'lbfgs/bare':>10} "
          f"{'GFLOP/s':>8} {'of peak':>7} {'style':>8} {'content':>8} {'RSS MB':>7}")
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
                  f"{r['lbfgs_ms'] / r['bare_ms']:10.3f} {gflops:8.1f} {gflops / peak['peak']:7.1%} "
                  f"{r['final_style']:8.4f} {r['final_content']:8.4f} {r['peak_rss_mb']:7.0f}", flush=True)
    for size in args.sizes:
        if (size, "float32") in rows and (size, "bfloat16") in rows:
            a, b = rows[(size, "float32")], rows[(size, "bfloat16")]
            print(f"{size} px: bfloat16 {a['bare_ms'] / b['bare_ms']:.2f}x faster; final style "
                  f"{b['final_style'] / a['final_style'] - 1:+.1%}, content {b['final_content'] / a['final_content'] - 1:+.1%}"
                  f" vs float32 after {args.iterations} iterations")


if __name__ == "__main__":
    main()
