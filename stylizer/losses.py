"""Content, Gram style, total variation and temporal losses, and the objective that sums them.

Written with ``keras.ops``, so the same objective runs on TensorFlow (default) and JAX; what is
backend-specific is the value-and-gradient call in ``stylizer.compute`` and the written-out gradients of
``stylizer.gradients`` (the Gram matrix's among them).
All losses are in float32 even when the network runs in bf16: Gram matrices of bf16 features lose too much.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np
from keras import ops

from stylizer import gradients

PART_NAMES = ("content", "style", "tv", "temporal")


def gram(features):
    """Gram matrix of (1, H, W, C) features, divided by H*W so that it does not grow with the image size."""
    f = ops.cast(features, "float32")
    channels = ops.shape(f)[-1]
    return gradients.gram(ops.reshape(f, (-1, channels)))


def style_layer_loss(features, target_gram):
    """Squared Gram difference relative to the target's own squared norm.

    Differs from Gatys et al. (sum((G - A)^2) / (4 N^2 M^2)): their scale varies by orders of magnitude
    between layers and paintings, so no single style weight suited every pair (measured in
    benchmarks/defaults.py); relative to |A|^2 every layer starts near the same scale and the weights keep
    their meaning across paintings, layers and image sizes.
    """
    g = gram(features)
    return ops.sum(ops.square(g - target_gram)) / (ops.sum(ops.square(target_gram)) + 1e-8)


def content_loss(features, target):
    """Mean squared feature difference relative to the target's mean square (independent of size and layer)."""
    target = ops.cast(target, "float32")
    return ops.mean(ops.square(ops.cast(features, "float32") - target)) / (ops.mean(ops.square(target)) + 1e-8)


def total_variation(image):
    """Mean squared difference between neighbouring pixels, in [0, 1] units; reduces high-frequency noise."""
    dy = image[:, 1:, :, :] - image[:, :-1, :, :]
    dx = image[:, :, 1:, :] - image[:, :, :-1, :]
    return (ops.mean(ops.square(dy)) + ops.mean(ops.square(dx))) / 255.0**2


def temporal_loss(image, warped_previous, mask):
    """Ruder et al.: mean over pixels of mask * (x - warped previous result)^2 in [0, 1] units; mask (1, H, W, 1)."""
    return ops.mean(mask * ops.square(image - warped_previous)) / 255.0**2


@dataclass(frozen=True)
class LossWeights:
    content: float
    style: float
    tv: float
    temporal: float


class Objective:
    """Total loss of an RGB image in [0, 255] given per-frame targets and, optionally, the style targets.

    Per-frame inputs are arguments rather than captured constants, so a compiled call is traced once and
    reused for every frame. The style targets can be arguments too (``style_grams``): each size of a
    picture has its own (the painting is matched at the picture's scale), and with them as arguments one
    trace serves every size. Without them, the Grams the objective was made with are used.
    """

    def __init__(self, extractor: keras.Model, content_layer: str, style_grams: dict, weights: LossWeights,
                 layer_weights: dict[str, float] | None = None):
        self.extractor = extractor
        self.content_layer = content_layer
        self.style_grams = {name: ops.convert_to_tensor(g, "float32") for name, g in style_grams.items()}
        self.weights = weights
        # The style loss is the weighted mean of the layers' losses (equal weights by default).
        total = sum((layer_weights or {}).get(name, 1.0) for name in self.style_grams)
        self.layer_weights = {name: (layer_weights or {}).get(name, 1.0) / total for name in self.style_grams}

    def __call__(self, image, content_target, temporal_target, temporal_mask, style_grams: dict | None = None):
        feats = self.extractor(image)
        c = content_loss(feats[self.content_layer], content_target)
        grams = self.style_grams if style_grams is None else style_grams
        s = sum(self.layer_weights[name] * style_layer_loss(feats[name], grams[name]) for name in self.style_grams)
        tv = total_variation(image)
        t = temporal_loss(image, temporal_target, temporal_mask)
        w = self.weights
        total = w.content * c + w.style * s + w.tv * tv + w.temporal * t
        return total, ops.stack([c, s, tv, t])


def style_grams(extractor: keras.Model, styles: list[np.ndarray], blend: list[float], layers: tuple[str, ...]):
    """Blended Gram targets of several style images: sum_s w_s (G - A_s)^2 equals (G - sum_s w_s A_s)^2 plus a
    constant when the weights sum to 1, so one blended target gives the same gradient at a fraction of the cost."""
    total = sum(blend)
    grams: dict[str, np.ndarray] = {}
    for image, weight in zip(styles, blend):
        feats = extractor(image[None].astype(np.float32))
        for name in layers:
            g = ops.convert_to_numpy(gram(feats[name])) * (weight / total)
            grams[name] = grams.get(name, 0) + g
    return grams


def content_target(extractor: keras.Model, image: np.ndarray, layer: str) -> np.ndarray:
    return ops.convert_to_numpy(ops.cast(extractor(image[None].astype(np.float32))[layer], "float32"))
