"""The backend-specific call: a compiled call returning the loss, its gradient and the loss parts.

TensorFlow is the default (a ``tf.function`` with one GradientTape: the network runs once per evaluation,
forward and backward, and the graph is traced once per run: image sizes are unknown in it, and each size's
style targets are an argument). With ``KERAS_BACKEND=jax`` the same objective is compiled with ``jax.jit``
over ``jax.vjp``. (The network's operations with written-out gradients for TensorFlow are in
``stylizer.gradients``.)

The call can be told a goal (``skip_at``): when the losses of the forward pass already meet it, the
backward pass is not run. A warm frame whose warped start is already as good as the shot's first frame then
costs the forward pass alone (about half an evaluation), and one that is not pays nothing extra: its
first evaluation is the optimiser's own, where a separate forward check before it would be thrown away.
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

# (image (1,H,W,3), content target, temporal target (1,H,W,3), temporal mask (1,H,W,1), skip_at=None,
#  grams=None) -> (loss, grad, parts); grad is None when ``skip_at`` (stopping.Goal.bounds) was met; ``grams``:
#  the style targets for this size ({layer: Gram}; None: the objective's own)
ValueAndGrad = Callable[..., tuple]
# Bounds no picture meets (its weighted cost would have to be negative): the gradient is always taken.
NO_GOAL = (0.0, 0.0, 0.0, -1.0, -1.0)
# Bounds every picture meets: the forward pass alone.
ANY_PICTURE = (0.0, 0.0, 0.0, float("inf"), float("inf"))


def _at_goal(parts, bounds):
    """In the compiled call, ``stopping.Goal.reached``: the weighted content, style and TV parts within the
    picture's bound, and the style part within its own."""
    picture = keras.ops.sum(bounds[:3] * parts[:3])
    return keras.ops.logical_and(picture <= bounds[3], parts[1] <= bounds[4])


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


def forward_only(value_and_grad: ValueAndGrad) -> Callable[..., tuple[float, np.ndarray]]:
    """The loss and its parts without the gradient, as numpy: the network's forward pass only, about half
    an evaluation, for a picture that is not going to be optimised (a finished result being measured).
    It is ``value_and_grad`` told that every picture is at its goal: the same compiled call (no second
    trace), which then skips the backward pass."""

    def call(image, content_target, temporal_target, temporal_mask, **options):
        loss, _, parts = value_and_grad(image, content_target, temporal_target, temporal_mask,
                                        skip_at=ANY_PICTURE, **options)
        return float(keras.ops.convert_to_numpy(loss)), keras.ops.convert_to_numpy(parts)

    return call


def compile_function(fn: Callable, any_size: int = 0) -> Callable:
    """``fn`` (written with keras.ops) as one compiled call: traced once per input shape, or, when its
    arguments are ``any_size`` float32 4-D tensors (images and feature maps), once for every size
    (TensorFlow; JAX compiles per shape)."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        # Everything traced here is straight-line keras.ops code (Python loops over Python ranges only), so
        # AutoGraph's source rewriting has nothing to convert: skipping it saves about 2 s of start-up per run.
        if any_size:
            return tf.function(fn, input_signature=_any_size(any_size), autograph=False)
        return tf.function(fn, reduce_retracing=True, autograph=False)
    if backend == "jax":
        import jax

        return jax.jit(fn)
    return fn


def make_forward(model: keras.Model) -> Callable[[np.ndarray], np.ndarray]:
    """A compiled forward pass returning float32 numpy features (the per-frame content target): an eager
    Keras call would dispatch layer by layer, and computing the whole extractor would run layers the
    target does not need."""
    forward = compile_function(lambda image: keras.ops.cast(model(image), "float32"), any_size=1)
    return lambda image: keras.ops.convert_to_numpy(forward(keras.ops.convert_to_tensor(image[None], "float32")))


def _out_of_memory(exc: Exception) -> StylizerError:
    return StylizerError("out of device memory at this working size: use a smaller --size "
                         f"({type(exc).__name__})")


def _any_size(count: int) -> list:
    """TensorFlow input signatures for ``count`` float32 4-D tensors of any size.

    A graph traced for one size is traced again for the next (a cold frame's coarser level, then full size):
    about 0.7 s a size for the value-and-gradient call at 192 px, as long as a dozen evaluations there.
    Traced with unknown sizes, it is traced once, and each evaluation is as fast as in a graph traced for
    its size (benchmarks/RESULTS.md)."""
    import tensorflow as tf

    return [tf.TensorSpec((None, None, None, None), tf.float32) for _ in range(count)]


def _tensorflow(objective: Objective, jit_compile: bool, on_device: bool) -> ValueAndGrad:
    import tensorflow as tf

    # Traced once for all sizes (_any_size), with each size's style targets as an argument; then the goal's
    # five bounds. XLA measured slower than the plain oneDNN graph on CPU (benchmarks/RESULTS.md): opt-in.
    grams_spec = {name: tf.TensorSpec((None, None), tf.float32) for name in objective.style_grams}

    @tf.function(jit_compile=jit_compile, autograph=False,  # see compile_function
                 input_signature=[*_any_size(4), tf.TensorSpec((5,), tf.float32), grams_spec])
    def step(image, content_target, temporal_target, temporal_mask, skip_at, grams):
        # Only the image is watched: the network's weights are fixed, so no weight gradient is built.
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch(image)
            loss, parts = objective(image, content_target, temporal_target, temporal_mask, grams)
        skip = _at_goal(parts, skip_at)
        # The backward pass sits in the branch a met goal does not take; the forward pass is the same either
        # way (measured: as fast as the forward-only call when skipped, as the plain step when not).
        grad = tf.cond(skip, lambda: tf.zeros_like(image), lambda: tape.gradient(loss, image))
        return loss, grad, parts, skip

    no_goal = tf.constant(NO_GOAL, tf.float32)

    def call(image, content_target, temporal_target, temporal_mask, skip_at=None, grams=None):
        bounds = no_goal if skip_at is None else tf.constant(skip_at, tf.float32)
        grams = objective.style_grams if grams is None else grams
        try:
            loss, grad, parts, skip = step(image, content_target, temporal_target, temporal_mask, bounds, grams)
        except tf.errors.ResourceExhaustedError as exc:
            raise _out_of_memory(exc) from None
        if skip_at is not None and bool(skip):
            grad = None
        if on_device:
            return loss, grad, parts
        return loss.numpy(), None if grad is None else grad.numpy(), parts.numpy()

    return call


def _jax(objective: Objective, on_device: bool) -> ValueAndGrad:
    import jax
    import jax.numpy as jnp

    @jax.jit
    def step(image, content_target, temporal_target, temporal_mask, skip_at, grams):
        loss, backward, parts = jax.vjp(
            lambda x: objective(x, content_target, temporal_target, temporal_mask, grams), image, has_aux=True)
        skip = _at_goal(parts, skip_at)
        # As in _tensorflow: the backward pass only in the branch an unmet goal takes.
        grad = jax.lax.cond(skip, lambda: jnp.zeros_like(image), lambda: backward(jnp.ones_like(loss))[0])
        return loss, grad, parts, skip

    no_goal = jnp.asarray(NO_GOAL, jnp.float32)

    def call(image, content_target, temporal_target, temporal_mask, skip_at=None, grams=None):
        bounds = no_goal if skip_at is None else jnp.asarray(skip_at, jnp.float32)
        grams = objective.style_grams if grams is None else grams
        try:
            loss, grad, parts, skip = step(image, content_target, temporal_target, temporal_mask, bounds, grams)
        except Exception as exc:  # jax raises XlaRuntimeError; only RESOURCE_EXHAUSTED is ours to explain
            if "RESOURCE_EXHAUSTED" in str(exc):
                raise _out_of_memory(exc) from None
            raise
        if skip_at is not None and bool(skip):
            grad = None
        if on_device:
            return loss, grad, parts
        return np.asarray(loss), None if grad is None else np.asarray(grad), np.asarray(parts)

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
