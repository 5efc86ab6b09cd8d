"""The second network (SqueezeNet 1.1) the independent measures can use: real ImageNet weights, pinned and read
safely, a model that classifies real photos correctly, and style and content distances on it."""

from __future__ import annotations

import io
import pickle
from pathlib import Path

import cv2
import numpy as np
import pytest

from stylizer import squeezenet
from stylizer.metrics import SQUEEZENET_STYLE_LAYERS, IndependentFeatures

SAMPLES = Path(__file__).resolve().parent.parent / "samples"


def _photo(path: Path, side: int | None = None) -> np.ndarray:
    rgb = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
    if side:
        scale = side / max(rgb.shape[:2])
        rgb = cv2.resize(rgb, (round(rgb.shape[1] * scale), round(rgb.shape[0] * scale)),
                         interpolation=cv2.INTER_AREA)
    return rgb


@pytest.fixture(scope="module")
def params() -> squeezenet.Params:
    return squeezenet.load_params()


def test_the_weights_file_may_hold_only_numpy_arrays() -> None:
    class Payload:
        def __reduce__(self):
            return (print, ("ran",))

    with pytest.raises(pickle.UnpicklingError, match="refused builtins.print"):
        squeezenet._NumpyOnly(io.BytesIO(pickle.dumps({"conv1": Payload()}))).load()
    arrays = {"conv1": [np.ones((3, 3, 3, 64), np.float32), np.zeros(64, np.float32)]}
    loaded = squeezenet._NumpyOnly(io.BytesIO(pickle.dumps(arrays))).load()
    np.testing.assert_array_equal(loaded["conv1"][0], arrays["conv1"][0])


@pytest.mark.weights
def test_real_photos_are_recognised(params: squeezenet.Params) -> None:
    # The pinned file's layers, with SqueezeNet 1.1's parameter count (1,235,496) and 1000 classes.
    assert sum(k.size + b.size for k, b in params.values()) == 1_235_496
    assert params["conv10"][0].shape == (1, 1, 512, 1000)
    model = squeezenet.build(params, ("logits",))
    # ImageNet classes: 281-285 domestic cats; 967 espresso, 968 cup. Measured: Egyptian cat, espresso.
    for name, expected in (("chelsea.jpg", range(281, 286)), ("photos/coffee.jpg", (967, 968))):
        logits = np.asarray(model(_photo(SAMPLES / name, 227).astype(np.float32)[None])["logits"])[0]
        assert int(np.argmax(logits)) in expected, name


@pytest.mark.weights
def test_distances_on_squeezenet(params: squeezenet.Params) -> None:
    meter = IndependentFeatures(params, side=128, network="squeezenet")
    assert meter.style_layers == SQUEEZENET_STYLE_LAYERS
    style, photo = _photo(SAMPLES / "starry_night.jpg", 128), _photo(SAMPLES / "chelsea.jpg", 128)
    assert meter.style_distance(style, style) == pytest.approx(0, abs=1e-5)
    far = meter.style_distance(photo, style)
    assert far > 0.5
    # The same painting at another size is far closer to itself than the photo is to it.
    assert meter.style_distance(_photo(SAMPLES / "starry_night.jpg", 96), style) < 0.3 * far
    assert meter.content_distance(photo, photo) == 0
    assert meter.content_distance(cv2.GaussianBlur(photo, (0, 0), 3), photo) > 0.1


def test_an_unknown_network_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown network"):
        IndependentFeatures(params={}, network="resnet")
