"""VGG16 cut at the deepest layer in use, and Keras' caffe preprocessing with its exact inverse."""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops

from stylizer import gradients
from stylizer.settings import ALL_LAYERS

# Keras' "caffe" mode: RGB -> BGR, then the ImageNet mean (BGR order) subtracted; no scaling.
IMAGENET_MEAN_BGR = np.array([103.939, 116.779, 123.68], dtype=np.float32)


def preprocess(rgb):
    """RGB in [0, 255] (NHWC) -> the network's BGR, mean-subtracted input. Works on tensors and arrays."""
    return ops.flip(rgb, axis=-1) - IMAGENET_MEAN_BGR


def deprocess(bgr: np.ndarray) -> np.ndarray:
    """Exact inverse of ``preprocess`` (no clipping: callers decide how to quantise)."""
    return (np.asarray(bgr, np.float32) + IMAGENET_MEAN_BGR)[..., ::-1]


class ConvReLU(layers.Conv2D):
    """VGG16's 3x3 convolution and ReLU, with the input gradient of stylizer.gradients."""

    def __init__(self, filters: int, **kwargs):
        # Fixed by VGG16 (and overriding a saved config's copies); the ReLU is applied in call().
        kwargs.update(kernel_size=3, padding="same", activation="relu")
        super().__init__(filters, **kwargs)

    def build(self, input_shape):
        super().build(input_shape)
        self.turned = self.add_weight(shape=(3, 3, self.filters, input_shape[-1]), initializer="zeros",
                                      trainable=False, name="turned_kernel")

    def load(self, kernel: np.ndarray, bias: np.ndarray) -> None:
        self.kernel.assign(kernel)
        self.bias.assign(bias)
        self.turned.assign(gradients.turned(kernel))

    def call(self, inputs):
        return gradients.conv3x3_relu(inputs, self.kernel, self.bias, self.turned)


class MaxPool2x2(layers.MaxPooling2D):
    """VGG16's 2x2 max pooling, with the input gradient of stylizer.gradients."""

    def __init__(self, **kwargs):
        kwargs.update(pool_size=2, strides=2)  # fixed by VGG16
        super().__init__(**kwargs)

    def call(self, inputs):
        return gradients.max_pool2x2(inputs)


def _block_of(layer: str) -> int:
    return int(layer[len("block")])


def build_extractor(params: dict, outputs: tuple[str, ...], dtype: str = "float32", pooling: str = "max"
                    ) -> keras.Model:
    """VGG16's convolutional stack up to the deepest of ``outputs``; nothing past it is built or computed.

    The model takes RGB in [0, 255] and returns ``{layer: features}``; preprocessing is part of the graph so
    the optimised variable stays in pixel space, where L-BFGS-B's bounds [0, 255] apply directly.
    ``dtype`` is a Keras dtype policy: "mixed_bfloat16" runs the convolutions in bf16 (AMX, tensor cores)
    while the layers' weights stay float32. The first convolution stays float32 whatever the policy: its
    input is the image itself, which bf16 would quantise to 0.5-1 grey level, below what L-BFGS resolves.
    ``pooling`` "avg" replaces VGG16's max pooling by average pooling, as Gatys et al. recommend: the
    gradient then reaches every pixel of a window, not only its maximum.
    """
    pool = {"max": MaxPool2x2, "avg": lambda **kw: layers.AveragePooling2D(2, strides=2, **kw)}[pooling]
    deepest = max(ALL_LAYERS.index(name) for name in outputs)
    image = keras.Input(shape=(None, None, 3), name="rgb")
    x = layers.Lambda(preprocess, name="caffe_preprocess")(image)
    taps = {}
    block = 1
    for name in ALL_LAYERS[: deepest + 1]:
        if _block_of(name) != block:
            x = pool(name=f"block{block}_pool", dtype=dtype)(x)
            block = _block_of(name)
        kernel, bias = params[name]
        conv = ConvReLU(kernel.shape[-1], name=name, dtype="float32" if name == ALL_LAYERS[0] else dtype)
        x = conv(x)
        conv.load(kernel, bias)
        if name in outputs:
            taps[name] = x
    return keras.Model(image, taps, name="vgg16_features")


def random_params(seed: int = 0, layers_up_to: str = "block5_conv3") -> dict:
    """He-initialised stand-in weights for unit tests of the plumbing only (never used by the product)."""
    rng = np.random.default_rng(seed)
    params, channels = {}, 3
    widths = {1: 64, 2: 128, 3: 256, 4: 512, 5: 512}
    for name in ALL_LAYERS[: ALL_LAYERS.index(layers_up_to) + 1]:
        out = widths[_block_of(name)]
        kernel = rng.normal(0, np.sqrt(2 / (9 * channels)), (3, 3, channels, out)).astype(np.float32)
        params[name] = (kernel, np.zeros(out, np.float32))
        channels = out
    return params
