"""The written-out input gradients equal what TensorFlow's tape derives for the plain operations."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from stylizer import gradients

pytestmark = pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="TensorFlow's own gradients")

rng = np.random.default_rng(0)


def tape_gradient(fn, x, weights):
    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = fn(x)
        loss = tf.reduce_sum(y * weights)  # a gradient with every entry different
    return y.numpy(), tape.gradient(loss, x).numpy()


@pytest.mark.parametrize("shape", [(1, 12, 16, 5), (2, 13, 9, 4)])  # odd sides: same padding at the edges
def test_convolution_gradient_matches_the_tape(shape):
    kernel = rng.normal(size=(3, 3, shape[-1], 7)).astype(np.float32)
    bias = rng.normal(size=7).astype(np.float32)
    x = rng.normal(size=shape).astype(np.float32)
    weights = rng.normal(size=shape[:3] + (7,)).astype(np.float32)
    ours = tape_gradient(lambda v: gradients.conv3x3_relu(v, kernel, bias, gradients.turned(kernel)), x, weights)
    plain = tape_gradient(lambda v: tf.nn.relu(tf.nn.conv2d(v, kernel, 1, "SAME") + bias), x, weights)
    np.testing.assert_allclose(ours[0], plain[0], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ours[1], plain[1], rtol=1e-4, atol=1e-4)
    assert np.abs(plain[1]).max() > 1  # the ReLU let gradient through


@pytest.mark.parametrize("shape", [(1, 8, 12, 4), (1, 9, 7, 3)])  # odd sides: the last row/column is dropped
def test_max_pool_gradient_matches_the_tape(shape):
    x = rng.normal(size=shape).astype(np.float32)
    pooled = (shape[0], shape[1] // 2, shape[2] // 2, shape[3])
    weights = rng.normal(size=pooled).astype(np.float32)
    ours = tape_gradient(gradients.max_pool2x2, x, weights)
    plain = tape_gradient(lambda v: tf.nn.max_pool2d(v, 2, 2, "VALID"), x, weights)
    np.testing.assert_array_equal(ours[0], plain[0])
    np.testing.assert_array_equal(ours[1], plain[1])
    assert np.count_nonzero(ours[1]) == np.prod(pooled)  # one input per window


def test_max_pool_gradient_is_shared_between_equal_maxima():
    # A flat region: every input of a window equal, as neighbouring pixels of a flat area are.
    x = np.zeros((1, 4, 4, 2), np.float32)
    x[0, :2, :2] = 3.0  # window (0, 0): four equal maxima
    x[0, 2, 3] = 5.0  # window (1, 1): one maximum
    weights = np.arange(1, 9, dtype=np.float32).reshape(1, 2, 2, 2)
    _, grad = tape_gradient(gradients.max_pool2x2, x, weights)
    np.testing.assert_allclose(grad[0, :2, :2, 0], np.full((2, 2), weights[0, 0, 0, 0] / 4))
    np.testing.assert_allclose(grad.reshape(1, 2, 2, 2, 2, 2).sum(axis=(2, 4)), weights)  # a subgradient
    assert grad[0, 2, 3, 0] == weights[0, 1, 1, 0] and grad[0, 2, 2, 0] == 0


def test_gram_gradient_matches_the_tape():
    f = rng.normal(size=(50, 6)).astype(np.float32)
    weights = rng.normal(size=(6, 6)).astype(np.float32)  # not symmetric: both halves of dG count
    ours = tape_gradient(gradients.gram, f, weights)
    plain = tape_gradient(lambda v: tf.matmul(v, v, transpose_a=True) / 50.0, f, weights)
    np.testing.assert_allclose(ours[0], plain[0], rtol=1e-5)
    np.testing.assert_allclose(ours[1], plain[1], rtol=1e-5, atol=1e-6)


def network_gradient(net, image, tapped):
    from stylizer import losses

    x = tf.constant(image)
    with tf.GradientTape() as tape:
        tape.watch(x)
        feats = net(x)
        value = sum(tf.reduce_sum(losses.gram(feats[name]) * (i + 1)) for i, name in enumerate(tapped))
    return float(value), tape.gradient(value, x).numpy()


def test_network_gradient_matches_the_tape_derived_network():
    from stylizer import features

    tapped = ("block1_conv1", "block2_conv2", "block3_conv1")
    net = features.build_extractor(features.random_params(3, "block3_conv1"), tapped)
    image = rng.uniform(0, 255, (1, 22, 19, 3)).astype(np.float32)  # odd sides through two poolings
    written = network_gradient(net, image, tapped)
    with gradients.tape_derived():  # eager: every layer's call() runs anew, plainly
        plain = network_gradient(net, image, tapped)
    assert written[0] == pytest.approx(plain[0], rel=1e-5)
    np.testing.assert_allclose(written[1], plain[1], rtol=1e-3, atol=1e-3 * np.abs(plain[1]).max())


def test_bfloat16_network_gradient_follows_the_float32_one():
    from stylizer import features

    tapped = ("block1_conv1", "block2_conv1")
    params = features.random_params(5, "block2_conv1")
    image = rng.uniform(0, 255, (1, 16, 20, 3)).astype(np.float32)
    exact = network_gradient(features.build_extractor(params, tapped), image, tapped)[1]
    net = features.build_extractor(params, tapped, dtype="mixed_bfloat16")
    assert net.get_layer("block2_conv1").compute_dtype == "bfloat16"
    rounded = network_gradient(net, image, tapped)[1]
    cosine = (exact * rounded).sum() / np.linalg.norm(exact) / np.linalg.norm(rounded)
    assert cosine > 0.99


def test_turned_kernel_is_made_when_the_weights_are_loaded():
    from stylizer import features

    params = features.random_params(6, "block1_conv2")
    layer = features.build_extractor(params, ("block1_conv2",)).get_layer("block1_conv2")
    kernel = params["block1_conv2"][0]
    np.testing.assert_array_equal(np.asarray(layer.turned), gradients.turned(kernel))
    assert gradients.turned(kernel)[0, 0, 5, 7] == kernel[2, 2, 7, 5]
