"""Quality measures of stylized images and videos.

- Temporal consistency: the warping error E_warp of Lai et al. 2018 ("Learning Blind Video Temporal
  Consistency"), computed with the flows of stylizer.temporal (``method="farneback"`` gives a flow the
  optimiser never sees: its temporal term uses DIS).
- Independent style and content distances (``IndependentFeatures``): VGG16 features on layers the
  optimiser's loss does not use (style block1_conv2, block2_conv2, block3_conv3, block4_conv3,
  block5_conv3; content block3_conv3), evaluated at one fixed working side so that runs at different
  ``--size`` can be compared.
- Sharpness: mean squared Laplacian, and its ratio to the input's (``relative_sharpness``).

Frames and images are HxWx3 RGB with values in [0, 255] (uint8 or float32).
"""

from __future__ import annotations

import hashlib
from collections import deque
from itertools import islice
from pathlib import Path

import cv2
import numpy as np

from stylizer.io.readers import iter_video_frames
from stylizer.temporal import FlowMethod, FlowPair, flow_between, warp


def _pair_error(out_prev: np.ndarray, out_cur: np.ndarray, pair: FlowPair) -> float:
    """sum(M * (O_t - warp(O_{t-1}))²) / (sum(M) * C), images in [0, 1]; nan when no pixel is reliable."""
    reliable = float(pair.mask.sum())
    if reliable == 0:
        return float("nan")
    cur = out_cur.astype(np.float32) / 255
    warped = warp(out_prev.astype(np.float32) / 255, pair.flow_bw)
    squared = (cur - warped) ** 2 * pair.mask[..., None]
    return float(squared.sum()) / (reliable * cur.shape[2])


def warping_error(
    out_prev: np.ndarray,
    out_cur: np.ndarray,
    in_prev: np.ndarray,
    in_cur: np.ndarray,
    method: FlowMethod = "dis",
) -> float:
    """E_warp between two consecutive output frames; flow and occlusion mask come from the input frames,
    which the output should follow, not from the output, whose flicker would corrupt them."""
    return _pair_error(out_prev, out_cur, flow_between(in_prev, in_cur, method))


class WarpErrorMeter:
    """Streaming E_warp: call add(in_frame, out_frame) for each frame in order.

    `value` is the mean over frame pairs of the output's E_warp, `input_value` the same for the input video
    (the floor the output can be compared with: flow errors and noise already make it non-zero); both share
    one flow computation per pair. Pairs without any reliable pixel carry no information and are skipped.
    With ``gap`` > 1 each frame is compared with the one ``gap`` frames before: the slow drift a
    frame-to-frame measure cannot see (a background that darkens over a shot).
    """

    def __init__(self, method: FlowMethod = "dis", gap: int = 1) -> None:
        self.method = method
        self.count = 0  # frames added
        self._earlier: deque[tuple[np.ndarray, np.ndarray]] = deque(maxlen=gap)
        self._output_errors: list[float] = []
        self._input_errors: list[float] = []

    def add(self, in_frame: np.ndarray, out_frame: np.ndarray) -> None:
        if len(self._earlier) == self._earlier.maxlen:
            in_prev, out_prev = self._earlier[0]
            pair = flow_between(in_prev, in_frame, self.method)
            output_error = _pair_error(out_prev, out_frame, pair)
            if not np.isnan(output_error):
                self._output_errors.append(output_error)
                self._input_errors.append(_pair_error(in_prev, in_frame, pair))
        self._earlier.append((in_frame, out_frame))
        self.count += 1

    @property
    def value(self) -> float:
        return float(np.mean(self._output_errors)) if self._output_errors else float("nan")

    @property
    def input_value(self) -> float:
        return float(np.mean(self._input_errors)) if self._input_errors else float("nan")


def evaluate_videos(input_video: Path, output_video: Path, max_frames: int | None = None,
                    method: FlowMethod = "farneback", long_gap: int = 10) -> dict:
    """Flicker and sharpness of a stylized video against its input, over the frames both have (at most
    max_frames); the output is compared at the input's size, where the flow is computed.

    Returns {"frames", "ewarp_output", "ewarp_input"} (E_warp between consecutive frames),
    {"ewarp_long_output", "ewarp_long_input"} (between frames ``long_gap`` apart) and {"sharpness_mean",
    "sharpness_first", "sharpness_last"} (relative_sharpness per frame: a low E_warp can also be smearing).
    The flow is Farneback's by default: the temporal loss was fitted with DIS, whose flow and mask would
    partly measure that the optimiser met its own target.
    """
    meters = WarpErrorMeter(method), WarpErrorMeter(method, gap=long_gap)
    sharp: list[float] = []
    # The pipeline's own reader: the same frames, rotation and decode-error handling as were stylized.
    inputs, outputs = iter_video_frames(input_video), iter_video_frames(output_video)
    try:
        for (_, in_frame), (_, out_frame) in islice(zip(inputs, outputs), max_frames):
            if out_frame.shape != in_frame.shape:
                out_frame = cv2.resize(out_frame, in_frame.shape[1::-1], interpolation=cv2.INTER_AREA)
            for meter in meters:
                meter.add(in_frame, out_frame)
            sharp.append(relative_sharpness(out_frame, in_frame))
    finally:
        inputs.close()
        outputs.close()
    short, long = meters
    nan = float("nan")
    return {"frames": short.count, "ewarp_output": short.value, "ewarp_input": short.input_value,
            "ewarp_long_output": long.value, "ewarp_long_input": long.input_value,
            "sharpness_mean": float(np.nanmean(sharp)) if sharp else nan,
            "sharpness_first": sharp[0] if sharp else nan, "sharpness_last": sharp[-1] if sharp else nan}


def pair_errors(input_video: Path, output_video: Path, method: FlowMethod = "farneback") -> list[float]:
    """E_warp of each consecutive output pair (item k: frames k and k+1), nan where no pixel is reliable:
    where in a clip the flicker is, not only how much there is on average."""
    errors = []
    previous = None
    inputs, outputs = iter_video_frames(input_video), iter_video_frames(output_video)
    try:
        for (_, in_frame), (_, out_frame) in zip(inputs, outputs):
            if out_frame.shape != in_frame.shape:
                out_frame = cv2.resize(out_frame, in_frame.shape[1::-1], interpolation=cv2.INTER_AREA)
            if previous is not None:
                errors.append(_pair_error(previous[1], out_frame, flow_between(previous[0], in_frame, method)))
            previous = (in_frame, out_frame)
    finally:
        inputs.close()
        outputs.close()
    return errors


# ------------------------------------------------------------------------------------------- sharpness

def _gray(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image, np.float32)
    return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if image.ndim == 3 else image


def sharpness(image: np.ndarray, where: np.ndarray | None = None) -> float:
    """Mean squared Laplacian of the grayscale image (float, [0, 255] scale), over the pixels ``where`` is
    True (all if None): larger = more fine detail."""
    squared = np.square(cv2.Laplacian(_gray(image), cv2.CV_32F), dtype=np.float64)
    return float(np.mean(squared if where is None else squared[where]))


def relative_sharpness(output: np.ndarray, input_image: np.ndarray) -> float:
    """sharpness(output) / sharpness(input resized to the output's size); nan for a flat input.

    The input is resized by area averaging (Lanczos if it is smaller), as stylizer.engine.resize does."""
    h, w = output.shape[:2]
    reference = np.asarray(input_image, np.float32)
    if reference.shape[:2] != (h, w):
        shrinking = h * w < reference.shape[0] * reference.shape[1]
        reference = cv2.resize(reference, (w, h), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LANCZOS4)
    reference = sharpness(reference)
    return sharpness(output) / reference if reference > 0 else float("nan")


# ------------------------------------------------------------------ independent style and content distances

# None of these is a layer of the optimiser's default loss (content block4_conv2; style blockN_conv1).
INDEPENDENT_STYLE_LAYERS = ("block1_conv2", "block2_conv2", "block3_conv3", "block4_conv3", "block5_conv3")
INDEPENDENT_CONTENT_LAYER = "block3_conv3"
# The second network (stylizer.squeezenet) shares nothing with the loss: the last module at each of its
# scales, and a content layer midway through it, as block3_conv3 is in VGG16.
SQUEEZENET_STYLE_LAYERS = ("conv1", "fire3", "fire5", "fire7", "fire9")
SQUEEZENET_CONTENT_LAYER = "fire5"
NETWORKS = ("vgg16", "squeezenet")
DEFAULT_SIDE = 256


def fit_side(image: np.ndarray, side: int) -> np.ndarray:
    """``image`` as float32, resized (shrunk or enlarged) so that its longest side is exactly ``side``."""
    from stylizer.engine import resize

    h, w = image.shape[:2]
    scale = side / max(h, w)
    return resize(np.asarray(image, np.float32), max(1, round(h * scale)), max(1, round(w * scale)))


class IndependentFeatures:
    """Style and content distances on layers or a network the optimiser does not use, at a fixed working side.

        meter = IndependentFeatures()                 # VGG16 layers outside the loss (stylizer.weights)
        meter = IndependentFeatures(network="squeezenet")  # another ImageNet network (stylizer.squeezenet)
        meter.style_distance(output, painting)        # mean over layers of |G(out) - G(style)| / |G(style)|
        meter.content_distance(output, photo)         # |F(out) - F(photo)| / |F(photo)| at the content layer

    Every image is first resized so that its longest side is ``side`` (default 256): figures then compare
    between runs made at different --size. Gram matrices are F^T F / (H*W) in float32. The style image's
    Gram matrices are cached per (style image, working shape).
    """

    def __init__(self, params: dict | None = None, side: int = DEFAULT_SIDE,
                 style_layers: tuple[str, ...] | None = None, content_layer: str | None = None,
                 network: str = "vgg16") -> None:
        import keras

        if network not in NETWORKS:
            raise ValueError(f"unknown network {network!r} (expected one of {', '.join(NETWORKS)})")
        vgg = network == "vgg16"
        self.network = network
        self.side = side
        self.style_layers = tuple(style_layers or (INDEPENDENT_STYLE_LAYERS if vgg else SQUEEZENET_STYLE_LAYERS))
        self.content_layer = content_layer or (INDEPENDENT_CONTENT_LAYER if vgg else SQUEEZENET_CONTENT_LAYER)
        outputs = tuple(dict.fromkeys(self.style_layers + (self.content_layer,)))
        if vgg:
            from stylizer.features import build_extractor
            from stylizer.weights import load_weights

            self.model = build_extractor(params if params is not None else load_weights(), outputs, dtype="float32")
        else:
            from stylizer import squeezenet

            self.model = squeezenet.build(params if params is not None else squeezenet.load_params(), outputs)
        self._style_cache: dict[tuple, dict[str, np.ndarray]] = {}
        self._forward = self.model
        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            # One trace for every image size; straight-line code, so no AutoGraph rewriting (compute.py).
            self._forward = tf.function(
                lambda x: self.model(x, training=False),
                input_signature=[tf.TensorSpec([1, None, None, 3], tf.float32)], autograph=False,
            )

    def features(self, image: np.ndarray) -> dict[str, np.ndarray]:
        """{layer: HxWxC float32 features} of an image already at its working size."""
        from keras import ops

        out = self._forward(np.ascontiguousarray(np.asarray(image, np.float32)[None]))
        return {name: np.asarray(ops.convert_to_numpy(value), np.float32)[0] for name, value in out.items()}

    def _grams(self, feats: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {layer: _gram(feats[layer]) for layer in self.style_layers}

    def style_grams(self, style_image: np.ndarray, side: int | None = None) -> dict[str, np.ndarray]:
        """Gram matrices of the style image resized to longest side ``side`` (default self.side), cached."""
        side = side or self.side
        style_image = np.ascontiguousarray(style_image)
        key = (hashlib.sha1(style_image.tobytes()).hexdigest(), style_image.shape, str(style_image.dtype), side)
        if key not in self._style_cache:
            self._style_cache[key] = self._grams(self.features(fit_side(style_image, side)))
        return self._style_cache[key]

    def distances(self, image: np.ndarray, *, style_image: np.ndarray | None = None,
                  photo: np.ndarray | None = None) -> dict[str, float]:
        """{"style": ..., "content": ...} for whichever of style_image / photo is given; one forward pass
        of ``image``."""
        work = fit_side(image, self.side)
        feats = self.features(work)
        result: dict[str, float] = {}
        if style_image is not None:
            # The style image's longest side equals the (resized) image's longest side.
            targets = self.style_grams(style_image, max(work.shape[:2]))
            grams = self._grams(feats)
            result["style"] = float(np.mean([
                np.linalg.norm(grams[layer] - targets[layer]) / max(np.linalg.norm(targets[layer]), 1e-12)
                for layer in self.style_layers
            ]))
        if photo is not None:
            from stylizer.engine import resize

            reference = resize(np.asarray(photo, np.float32), *work.shape[:2])
            target = self.features(reference)[self.content_layer]
            diff = np.linalg.norm(feats[self.content_layer] - target)
            result["content"] = float(diff / max(np.linalg.norm(target), 1e-12))
        return result

    def style_distance(self, image: np.ndarray, style_image: np.ndarray) -> float:
        """Mean over the style layers of ||G(image) - G(style)||_F / ||G(style)||_F (0 = the style's statistics)."""
        return self.distances(image, style_image=style_image)["style"]

    def content_distance(self, image: np.ndarray, photo: np.ndarray) -> float:
        """||F(image) - F(photo)|| / ||F(photo)|| at the content layer, the photo resized to the image's shape."""
        return self.distances(image, photo=photo)["content"]


def _gram(features: np.ndarray) -> np.ndarray:
    """F^T F / (H*W) of HxWxC features, float32."""
    flat = features.reshape(-1, features.shape[-1]).astype(np.float32, copy=False)
    return (flat.T @ flat) / np.float32(flat.shape[0])
