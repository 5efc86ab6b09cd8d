import numpy as np

from stylizer import features


def test_preprocess_and_deprocess_are_exact_inverses():
    rgb = np.random.default_rng(0).uniform(0, 255, (1, 4, 5, 3)).astype(np.float32)
    bgr = np.asarray(features.preprocess(rgb))
    # caffe mode: channel order flipped, ImageNet mean (BGR) subtracted, no scaling
    np.testing.assert_allclose(bgr[..., 0], rgb[..., 2] - 103.939, rtol=1e-6, atol=1e-4)
    np.testing.assert_allclose(features.deprocess(bgr), rgb, atol=1e-4)


def test_extractor_stops_at_the_deepest_layer_in_use():
    params = features.random_params(0)
    net = features.build_extractor(params, ("block1_conv1", "block3_conv1"))
    names = [layer.name for layer in net.layers]
    assert "block3_conv1" in names and "block3_conv2" not in names and "block4_conv1" not in names
    out = net(np.zeros((1, 32, 40, 3), np.float32))
    assert set(out) == {"block1_conv1", "block3_conv1"}
    assert tuple(out["block3_conv1"].shape) == (1, 8, 10, 256)


def test_weights_are_loaded_by_layer_name():
    params = features.random_params(1, "block1_conv2")
    net = features.build_extractor(params, ("block1_conv2",))
    layer = net.get_layer("block1_conv2")
    np.testing.assert_array_equal(np.asarray(layer.kernel), params["block1_conv2"][0])
    np.testing.assert_array_equal(np.asarray(layer.bias), params["block1_conv2"][1])


def test_average_pooling_averages_each_window():
    params = features.random_params(2, "block2_conv1")
    image = np.random.default_rng(4).uniform(0, 255, (1, 16, 16, 3)).astype(np.float32)
    tapped = ("block1_conv2", "block2_conv1")
    by_max = features.build_extractor(params, tapped)
    by_avg = features.build_extractor(params, tapped, pooling="avg")
    assert "AveragePooling2D" in {type(layer).__name__ for layer in by_avg.layers}
    first = np.asarray(by_avg(image)["block1_conv2"])
    np.testing.assert_allclose(first, np.asarray(by_max(image)["block1_conv2"]), rtol=1e-5)  # before any pool
    # block2_conv1 of the average-pooled net equals block2_conv1 applied to the 2x2 means of block1_conv2.
    means = first.reshape(1, 8, 2, 8, 2, 64).mean(axis=(2, 4))
    kernel, bias = params["block2_conv1"]
    from keras import ops

    expected = ops.relu(ops.conv(means, kernel, padding="same") + bias)
    np.testing.assert_allclose(np.asarray(by_avg(image)["block2_conv1"]), np.asarray(expected), rtol=1e-3,
                               atol=1e-3)
