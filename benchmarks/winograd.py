"""Winograd 3x3 convolutions built from TensorFlow operations, against TensorFlow's own (oneDNN) convolution.

    python benchmarks/winograd.py --size 192

An evaluation is VGG16's 3x3 convolutions, forward and (written out, stylizer.gradients) backward, and
those already run at about the matmul peak on a CPU (benchmarks/iteration.py). Winograd's F(m, 3) computes
m x m outputs per tile with (m + 2)^2 products per channel pair instead of 9 m^2: 2.25x fewer for
F(2, 3), 4x fewer for F(4, 3). This asks whether that saving survives being written with the backend's
operations (tile extraction, the input and output transforms as small matrix products, one batched
matrix product per tile position) rather than a fused kernel. Per VGG16 layer shape at the given image
size (the height is 3/4 of the side, as a landscape frame's), random inputs, float32, median ms of one
forward convolution, and the largest error relative to the direct result's largest value.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def matrices(m: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """B^T, G and A^T of F(m, 3) (Lavin and Gray, "Fast Algorithms for Convolutional Neural Networks")."""
    if m == 2:
        bt = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]]
        g = [[1, 0, 0], [.5, .5, .5], [.5, -.5, .5], [0, 0, 1]]
        at = [[1, 1, 1, 0], [0, 1, -1, -1]]
    elif m == 4:
        bt = [[4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0],
              [0, -2, -1, 2, 1, 0], [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1]]
        g = [[1 / 4, 0, 0], [-1 / 6, -1 / 6, -1 / 6], [-1 / 6, 1 / 6, -1 / 6],
             [1 / 24, 1 / 12, 1 / 6], [1 / 24, -1 / 12, 1 / 6], [0, 0, 1]]
        at = [[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0], [0, 1, -1, 8, -8, 1]]
    else:
        raise ValueError(m)
    return tuple(np.array(a, np.float64) for a in (bt, g, at))


def winograd_conv(m: int, kernel: np.ndarray):
    """A compiled same-padded stride-1 convolution with ``kernel`` (3, 3, in, out) by F(m, 3)."""
    import tensorflow as tf

    bt, g, at = matrices(m)
    a = m + 2
    cin, cout = kernel.shape[2:]
    # The kernel's transform is made once: G k G^T per channel pair, one (in, out) matrix per tile position.
    u = tf.constant(np.einsum("ai,ijck,bj->abck", g, kernel.astype(np.float64), g)
                    .reshape(a * a, cin, cout).astype(np.float32))
    b2, a2 = tf.constant(np.kron(bt, bt).astype(np.float32)), tf.constant(np.kron(at, at).astype(np.float32))

    @tf.function(autograph=False)
    def conv(x):
        n, h, w, _ = x.shape
        th, tw = -(-h // m), -(-w // m)
        padded = tf.pad(x, [[0, 0], [1, th * m + 1 - h], [1, tw * m + 1 - w], [0, 0]])
        tiles = tf.image.extract_patches(padded, [1, a, a, 1], [1, m, m, 1], [1, 1, 1, 1], "VALID")
        tiles = tf.reshape(tiles, [n * th * tw, a * a, cin])
        v = tf.einsum("xy,pyc->xpc", b2, tiles)  # B^T d B of every tile
        y = tf.einsum("ox,xpk->pok", a2, tf.matmul(v, u))  # A^T (U . V) A
        y = tf.transpose(tf.reshape(y, [n, th, tw, m, m, cout]), [0, 1, 3, 2, 4, 5])
        return tf.reshape(y, [n, th * m, tw * m, cout])[:, :h, :w]

    return conv


def median_ms(fn, x, repeat: int) -> float:
    fn(x).numpy()  # traced once
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn(x).numpy()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=192, help="the image's long side")
    ap.add_argument("--repeat", type=int, default=15)
    args = ap.parse_args()
    import tensorflow as tf

    h, w = args.size * 3 // 4, args.size
    # VGG16's second convolution of each block (the first of block 5), at that block's spatial size.
    layers = [(h, w, 64, 64), (h // 2, w // 2, 128, 128), (h // 4, w // 4, 256, 256),
              (h // 8, w // 8, 512, 512), (h // 16, w // 16, 512, 512)]
    rng = np.random.default_rng(0)
    print(f"{'layer shape':>22} {'direct ms':>10} {'F(2,3) ms':>10} {'ratio':>6} {'F(4,3) ms':>10} {'ratio':>6}"
          f" {'F(2,3) err':>10} {'F(4,3) err':>10}")
    totals = np.zeros(3)
    for lh, lw, cin, cout in layers:
        x = tf.constant(rng.standard_normal((1, lh, lw, cin)).astype(np.float32))
        kernel = (rng.standard_normal((3, 3, cin, cout)) / np.sqrt(9 * cin)).astype(np.float32)
        k = tf.constant(kernel)
        direct = tf.function(lambda x, k=k: tf.nn.conv2d(x, k, 1, "SAME"), autograph=False)
        reference = direct(x).numpy()
        row, errors = [median_ms(direct, x, args.repeat)], []
        for m in (2, 4):
            conv = winograd_conv(m, kernel)
            errors.append(np.abs(conv(x).numpy() - reference).max() / np.abs(reference).max())
            row.append(median_ms(conv, x, args.repeat))
        totals += row
        print(f"{f'{lh}x{lw} {cin}->{cout}':>22} {row[0]:10.2f} {row[1]:10.2f} {row[1] / row[0]:6.2f}"
              f" {row[2]:10.2f} {row[2] / row[0]:6.2f} {errors[0]:10.1e} {errors[1]:10.1e}", flush=True)
    print(f"{'all five':>22} {totals[0]:10.2f} {totals[1]:10.2f} {totals[1] / totals[0]:6.2f}"
          f" {totals[2]:10.2f} {totals[2] / totals[0]:6.2f}")


if __name__ == "__main__":
    main()
