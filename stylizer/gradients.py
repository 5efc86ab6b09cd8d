"""VGG16's 3x3 convolution with ReLU, its 2x2 max pooling and the Gram matrix, with input gradients written out.

Style transfer differentiates VGG16 with respect to the image only. On TensorFlow's CPU kernels the
gradients its tape derives for these operations cost more than the arithmetic they need; written out, one
evaluation at 512 px took 0.73x the time and at 256 px 0.81x, float32, 2-core Zen 3 (benchmarks/RESULTS.md
"Written-out input gradients"; `benchmarks/gradients.py` times each operation):

- The input gradient of a stride-1, same-padded 3x3 convolution is the same convolution of the output
  gradient with the kernel turned by 180 degrees and its channel axes swapped. TensorFlow's
  Conv2DBackpropInput ran at 40-60 GFLOP/s on the large early layers of a 512 px image; the forward
  kernel that replaces it runs at 100-140.
- TensorFlow's MaxPoolGrad searches every window again; comparing each window with its pooled maximum is
  a few passes over memory.
- The gradient of G = F^T F / n is F (dG + dG^T) / n: one product, where the tape builds two and a
  transpose of the whole feature map.

Elsewhere the plain operations are used: on JAX (the GPU checks) XLA derives these gradients itself, and
on a GPU, with either backend, the written-out ones were not measured.
"""

from __future__ import annotations

import contextlib

import keras
import numpy as np
from keras import ops

_written_out = True  # off only inside ``tape_derived`` (comparisons in tests and benchmarks/gradients.py)


def _written() -> bool:
    """Whether to build the written-out gradients: TensorFlow on a CPU, where they were measured."""
    if not _written_out or keras.backend.backend() != "tensorflow":
        return False
    import tensorflow as tf

    return not tf.config.list_logical_devices("GPU")


@contextlib.contextmanager
def tape_derived():
    """Within this block the operations are built plainly (as on JAX), their gradients left to the tape:
    what the written-out ones are compared with. The choice is made when a call is traced, so a compiled
    call traced inside the block keeps the plain operations, and one retraced later (a new shape) does not."""
    global _written_out
    before, _written_out = _written_out, False
    try:
        yield
    finally:
        _written_out = before


def turned(kernel: np.ndarray) -> np.ndarray:
    """The kernel (3, 3, in, out) turned by 180 degrees with its channel axes swapped: (3, 3, out, in)."""
    return np.ascontiguousarray(np.transpose(kernel[::-1, ::-1], (0, 1, 3, 2)))


def conv3x3_relu(x, kernel, bias, turned_kernel):
    """relu(conv(x, kernel) + bias), stride 1, same padding; NHWC, kernel (3, 3, in, out), ``turned_kernel``
    its ``turned`` copy, made once (turned in every evaluation, a 512-channel kernel took up to 60 ms)."""
    # The first layer's input gradient has three channels, which the forward kernel computes more slowly
    # than TensorFlow's own (benchmarks/gradients.py): there the tape's is kept.
    if not _written() or kernel.shape[2] == 3:
        return ops.relu(ops.conv(x, kernel, padding="same") + bias)
    import tensorflow as tf

    @tf.custom_gradient
    def forward(x, kernel, bias, turned_kernel):
        # Written as conv, bias, relu so that TensorFlow's graph optimiser still fuses the three.
        y = tf.nn.relu(tf.nn.bias_add(tf.nn.conv2d(x, kernel, 1, "SAME"), bias))

        def backward(dy):
            dz = tf.raw_ops.ReluGrad(gradients=dy, features=y)
            # The weights are constants of the objective: no gradient for them is built.
            return tf.nn.conv2d(dz, turned_kernel, 1, "SAME"), None, None, None

        return y, backward

    # As tensors, not variables: a custom gradient over variables would have to return theirs too.
    return forward(x, *(tf.convert_to_tensor(v) for v in (kernel, bias, turned_kernel)))


def max_pool2x2(x):
    """2x2 max pooling, stride 2, valid padding (odd last rows and columns dropped), NHWC."""
    if not _written():
        return ops.max_pool(x, 2, 2, padding="valid")
    import tensorflow as tf

    @tf.custom_gradient
    def forward(x):
        y = tf.nn.max_pool2d(x, 2, 2, "VALID")

        def backward(dy):
            # Each window's gradient goes to the inputs equal to its maximum, shared where several are:
            # neighbouring pixels of a flat region have exactly equal features. (TensorFlow's gives it to
            # one of them; any split that sums to the window's gradient is a subgradient of the maximum.)
            n, h, w, c = tf.unstack(tf.shape(x))
            h2, w2 = tf.shape(y)[1], tf.shape(y)[2]
            windows = tf.reshape(x[:, : 2 * h2, : 2 * w2], [n, h2, 2, w2, 2, c])
            hit = tf.cast(windows == y[:, :, None, :, None], dy.dtype)
            share = dy[:, :, None, :, None] / tf.reduce_sum(hit, axis=(2, 4), keepdims=True)
            dx = tf.reshape(hit * share, [n, 2 * h2, 2 * w2, c])
            return tf.pad(dx, [[0, 0], [0, h - 2 * h2], [0, w - 2 * w2], [0, 0]])

        return y, backward

    return forward(x)


def gram(features):
    """F^T F / n of (n, C) float32 features."""
    n = ops.cast(ops.shape(features)[0], "float32")
    if not _written():
        return ops.matmul(ops.transpose(features), features) / n
    import tensorflow as tf

    @tf.custom_gradient
    def forward(f):
        def backward(dg):
            return tf.matmul(f, (dg + tf.transpose(dg)) / n)  # scaled before the product: C^2, not n*C

        return tf.matmul(f, f, transpose_a=True) / n, backward

    return forward(features)
