"""The backend-specific call: a compiled call returning the loss, its gradient and the loss parts.

TensorFlow is the default (a ``tf.function`` with one GradientTape: the network runs once per evaluation,
forward and backward, and the graph is traced once per image size). With ``KERAS_BACKEND=jax`` the same
objective is compiled with ``jax.jit(jax.value_and_grad)``. (The network's operations with written-out
gradients for TensorFlow are in ``stylizer.gradients``.)
"""

from __future__ import annotations

import ctypes
import os
from typing import Callable

import keras
import numpy as np

from stylizer.console import native_stderr_silenced
from stylizer.errors import StylizerError
from stylizer.losses import Objective

# (image (1,H,W,3), content target, temporal target (1,H,W,3), temporal mask (1,H,W,1)) -> (loss, grad, parts)
ValueAndGrad = Callable[..., tuple]


def keep_freed_memory() -> None:
    """Have glibc keep freed memory for reuse instead of returning it to the kernel.

    Every evaluation allocates and frees the same large activation buffers (tens of MB each at 512 px).
    By default glibc serves such blocks with mmap and unmaps them on free, so each evaluation page-faults
    and zero-fills its buffers anew: a quarter of an evaluation's time was kernel time here. Served from
    the heap and kept, the pages are reused: 0.90x the time per evaluation at 384 px on 2 cores
    (benchmarks/RESULTS.md). The process's memory then stays at its peak, which the memory check already
    plans for. Does nothing where the C library is not glibc.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return
    m_trim_threshold, m_mmap_max = -1, -4  # from glibc's malloc.h
    mallopt(m_mmap_max, 0)
    mallopt(m_trim_threshold, 2**30)


def configure_device(device: str, debug: bool = False, threads: int | None = None) -> str:
    """Apply --device (and, for a worker given part of a machine, its CPU thread count) before the backend
    initialises; return a short description of what runs."""
    keep_freed_memory()
    with native_stderr_silenced(not debug):
        return _configure_device(device, threads)


def _configure_device(device: str, threads: int | None = None) -> str:
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        if threads:
            # Two workers on one machine would otherwise each start a thread per core and fight for them.
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(min(2, threads))
        if device == "cpu":
            tf.config.set_visible_devices([], "GPU")
        gpus = tf.config.list_physical_devices("GPU") if device != "cpu" else []
        if device == "gpu" and not gpus:
            from stylizer.errors import UsageError

            raise UsageError("--device gpu: TensorFlow sees no GPU on this machine")
        for gpu in gpus:
            # Allocate as needed so a failed large size can report the size that fits instead of crashing.
            tf.config.experimental.set_memory_growth(gpu, True)
        return f"tensorflow on {'GPU' if gpus else f'CPU ({threads or os.cpu_count()} threads)'}"
    if backend == "jax":
        import jax

        if device == "cpu":
            jax.config.update("jax_platforms", "cpu")
        return f"jax on {jax.devices()[0].platform.upper()}"
    return backend


def has_gpu() -> bool:
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return bool(tf.config.list_logical_devices("GPU"))
    if backend == "jax":
        import jax

        return jax.devices()[0].platform == "gpu"
    return False


def make_value_and_grad(objective: Objective, jit_compile: bool = False, on_device: bool = False) -> ValueAndGrad:
    """Returns numpy arrays for scipy's L-BFGS-B, or with ``on_device`` the backend's own tensors, left on the
    accelerator for ``lbfgs_device``."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        return _tensorflow(objective, jit_compile, on_device)
    if backend == "jax":
        return _jax(objective, on_device)
    raise RuntimeError(f"unsupported Keras backend '{backend}' (use tensorflow or jax)")


def make_value(objective: Objective) -> Callable[..., tuple[float, np.ndarray]]:
    """The loss and its parts without the gradient, as numpy: the network's forward pass only, about a
    third of an evaluation. Enough to judge a picture that is not going to be optimised (a warm frame's
    warped start that is already at the shot's level, or a finished result being measured)."""
    forward = compile_function(lambda *arrays: objective(*arrays))

    def call(image, content_target, temporal_target, temporal_mask):
        loss, parts = forward(*(keras.ops.convert_to_tensor(a, "float32")
                                for a in (image, content_target, temporal_target, temporal_mask)))
        return float(keras.ops.convert_to_numpy(loss)), keras.ops.convert_to_numpy(parts)

    return call


def compile_function(fn: Callable) -> Callable:
    """``fn`` (written with keras.ops) as one compiled call: traced once per input shape."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        # Everything traced here is straight-line keras.ops code (Python loops over Python ranges only), so
        # AutoGraph's source rewriting has nothing to convert: skipping it saves about 2 s of start-up per run.
        return tf.function(fn, reduce_retracing=True, autograph=False)
    if backend == "jax":
        import jax

        return jax.jit(fn)
    return fn


def make_forward(model: keras.Model) -> Callable[[np.ndarray], np.ndarray]:
    """A compiled forward pass returning float32 numpy features (the per-frame content target): an eager
    Keras call would dispatch layer by layer, and computing the whole extractor would run layers the
    target does not need."""
    forward = compile_function(lambda image: keras.ops.cast(model(image), "float32"))
    return lambda image: keras.ops.convert_to_numpy(forward(keras.ops.convert_to_tensor(image[None], "float32")))


def _out_of_memory(exc: Exception) -> StylizerError:
    return StylizerError("out of device memory at this working size: use a smaller --size "
                         f"({type(exc).__name__})")


def _tensorflow(objective: Objective, jit_compile: bool, on_device: bool) -> ValueAndGrad:
    import tensorflow as tf

    # XLA measured slower than the plain oneDNN graph on CPU (benchmarks/RESULTS.md), so it is opt-in.
    @tf.function(jit_compile=jit_compile, reduce_retracing=True, autograph=False)  # see compile_function
    def step(image, content_target, temporal_target, temporal_mask):
        # Only the image is watched: the network's weights are fixed, so no weight gradient is built.
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch(image)
            loss, parts = objective(image, content_target, temporal_target, temporal_mask)
        return loss, tape.gradient(loss, image), parts

    def call(image, content_target, temporal_target, temporal_mask):
        try:
            loss, grad, parts = step(image, content_target, temporal_target, temporal_mask)
        except tf.errors.ResourceExhaustedError as exc:
            raise _out_of_memory(exc) from None
        if on_device:
            return loss, grad, parts
        return loss.numpy(), grad.numpy(), parts.numpy()

    return call


def _jax(objective: Objective, on_device: bool) -> ValueAndGrad:
    import jax

    def value(image, content_target, temporal_target, temporal_mask):
        return objective(image, content_target, temporal_target, temporal_mask)

    step = jax.jit(jax.value_and_grad(value, has_aux=True))

    def call(image, content_target, temporal_target, temporal_mask):
        try:
            (loss, parts), grad = step(image, content_target, temporal_target, temporal_mask)
        except Exception as exc:  # jax raises XlaRuntimeError; only RESOURCE_EXHAUSTED is ours to explain
            if "RESOURCE_EXHAUSTED" in str(exc):
                raise _out_of_memory(exc) from None
            raise
        if on_device:
            return loss, grad, parts
        return np.asarray(loss), np.asarray(grad), np.asarray(parts)

    return call


def _cpu_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def native_bfloat16() -> bool:
    """Whether the device the network runs on multiplies bf16 natively: a GPU of compute capability 8.0 or
    later (tensor cores), or a CPU with AVX512_BF16 or AMX. Elsewhere bf16 is emulated and slower than
    float32, so it is not worth its rounding."""
    backend = keras.backend.backend()
    if has_gpu():
        if backend == "tensorflow":
            import tensorflow as tf

            gpu = tf.config.list_physical_devices("GPU")[0]
            capability = tf.config.experimental.get_device_details(gpu).get("compute_capability", (0, 0))
        else:
            import jax

            capability = tuple(int(v) for v in str(getattr(jax.devices()[0], "compute_capability", "0.0")).split("."))
        return tuple(capability) >= (8, 0)
    return bool(_cpu_flags() & {"avx512_bf16", "amx_bf16"})


def resolve_precision(requested: str) -> str:
    if requested != "auto":
        return requested
    return "bfloat16" if native_bfloat16() else "float32"


def resolve_optimizer(requested: str) -> str:
    """auto: the projected L-BFGS (stylizer.optimize.lbfgs), measured on the CPU; on a GPU scipy's L-BFGS-B
    stays the default until the projected one has been measured there (benchmarks/gpu_check.sh)."""
    if requested != "auto":
        return requested
    return "scipy" if has_gpu() else "lbfgs"
