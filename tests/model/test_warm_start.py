"""Starting a run from a shipped .tflite, and widening or slimming a trained network."""

import json

import numpy as np
import pytest

pytest.importorskip("tensorflow", reason="training needs TensorFlow (pip install '.[test]')")

import keras  # noqa: E402

from model.runtime.classifier import EmotionClassifier  # noqa: E402
from model.runtime.errors import DataError  # noqa: E402
from model.runtime.preprocess import to_network_input  # noqa: E402
from model.training.data import load_dataset  # noqa: E402
from model.training.export import export_tflite  # noqa: E402
from model.training.network import build_model  # noqa: E402
from model.training.train import train  # noqa: E402
from model.training.warm_start import keras_from_tflite, slim, widen  # noqa: E402
from tests.conftest import TINY_STAGES, tiny_config  # noqa: E402


def _faces(cfg, split):
    return load_dataset(cfg.data)[split].x


def _filters(model):
    return [layer.filters for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]


def test_a_float_tflite_comes_back_as_the_network_it_was_written_from(tiny_run, tmp_path):
    cfg, out = tiny_run
    original = keras.models.load_model(out / "best.keras")
    path = export_tflite(original, tmp_path / "float.tflite")  # float: no calibration faces
    rebuilt = keras_from_tflite(path, _faces(cfg, "train"))
    assert _filters(rebuilt) == [f for f, n in TINY_STAGES for _ in range(n)]
    x = to_network_input(_faces(cfg, "val"))
    np.testing.assert_allclose(rebuilt.predict(x, verbose=0), original.predict(x, verbose=0),
                               atol=1e-5)


def test_an_int8_tflite_comes_back_computing_what_it_computes(tiny_run):
    cfg, out = tiny_run
    faces = _faces(cfg, "val")
    # the network's own probabilities: the calibration the file carries is not a weight
    shipped = EmotionClassifier.load(out / "emotion_cnn.tflite", flip=False,
                                     calibrated=False).predict(faces)
    rebuilt = keras_from_tflite(out / "emotion_cnn.tflite", _faces(cfg, "train"))
    probs = rebuilt.predict(to_network_input(faces), verbose=0)
    # the int8 file rounds activations too; the float rebuild differs by that rounding
    np.testing.assert_allclose(probs, shipped, atol=0.02)
    # and in training mode the batch norms pass nearly the same (they normalise by
    # the batch's statistics, which the rebuild measured), dropout aside
    no_dropout = keras.Model(rebuilt.input, rebuilt.get_layer("emotion")(
        rebuilt.get_layer("gap").output))
    x = to_network_input(_faces(cfg, "train"))
    np.testing.assert_allclose(no_dropout(x, training=True).numpy(),
                               rebuilt.predict(x, verbose=0), atol=0.02)


def test_widening_keeps_the_outputs_and_sets_the_copies_apart(tiny_run):
    cfg, out = tiny_run
    narrow = keras.models.load_model(out / "best.keras")
    wide = widen(narrow, 2.0, seed=0)
    assert _filters(wide) == [2 * f for f in _filters(narrow)]
    x = to_network_input(_faces(cfg, "val"))
    np.testing.assert_allclose(wide.predict(x, verbose=0), narrow.predict(x, verbose=0),
                               atol=1e-5)
    # the second convolution's weights from a copied channel and from its original
    # differ (equal ones would get equal gradients and never part)
    first, second = (layer for layer in wide.layers if isinstance(layer, keras.layers.Conv2D))
    kernel, old = first.get_weights()[0], narrow.get_layer(first.name).get_weights()[0]
    n = old.shape[3]
    copied = [c for c in range(n, 2 * n)]
    originals = [next(o for o in range(n) if np.array_equal(kernel[..., c], kernel[..., o]))
                 for c in copied]
    weights = second.get_weights()[0]
    for c, o in zip(copied, originals):
        assert not np.allclose(weights[:, :, c], weights[:, :, o])


def test_train_starts_from_a_tflite_widened(tiny_run, tmp_path):
    cfg, out = tiny_run
    run = tmp_path / "wide"
    train(tiny_config(cfg.data, run, init=str(out / "emotion_cnn.tflite"), widen=1.5))
    state = json.loads((run / "state.json").read_text())
    assert state["config"]["widen"] == 1.5
    assert _filters(keras.models.load_model(run / "last.keras")) == [6, 12]


def test_widen_or_slim_without_init_is_refused(tiny_folder, tmp_path):
    for change in ({"widen": 2.0}, {"slim": 0.5}):
        with pytest.raises(DataError, match="--widen and --slim need --init"):
            train(tiny_config(tiny_folder, tmp_path / "run", **change))


def test_slimming_keeps_the_channels_the_batch_norm_scales_most(tiny_run):
    cfg, out = tiny_run
    full = keras.models.load_model(out / "best.keras")
    x = to_network_input(_faces(cfg, "val"))
    np.testing.assert_allclose(slim(full, 1.0).predict(x, verbose=0),
                               full.predict(x, verbose=0), atol=1e-6)
    half = slim(full, 0.5)
    assert _filters(half) == [f // 2 for f in _filters(full)]
    first, second = (layer.name for layer in full.layers
                     if isinstance(layer, keras.layers.Conv2D))
    gamma, _, _, var = full.get_layer("bn1_1").get_weights()
    kept = np.sort(np.argsort(-np.abs(gamma) / np.sqrt(var + 1e-3))[:len(gamma) // 2])
    np.testing.assert_array_equal(half.get_layer(first).get_weights()[0],
                                  full.get_layer(first).get_weights()[0][..., kept])
    # the next layer reads only the kept channels
    assert half.get_layer(second).get_weights()[0].shape[2] == len(kept)
    np.testing.assert_array_equal(half.get_layer("bn1_1").get_weights()[0], gamma[kept])


def test_a_strided_first_convolution_replaces_the_first_pool(tiny_run, tmp_path):
    cfg, out = tiny_run
    strided = slim(keras.models.load_model(out / "best.keras"), 1.0, stem_stride=2)
    assert strided.get_layer("conv1_1").strides == (2, 2)
    assert "pool1" not in [layer.name for layer in strided.layers]
    assert strided.get_layer("conv2_1").input.shape[1:3] == (24, 24)
    # and it comes back from its .tflite as it is (stride and all)
    path = export_tflite(strided, tmp_path / "strided.tflite")
    rebuilt = keras_from_tflite(path, _faces(cfg, "train"))
    assert rebuilt.get_layer("conv1_1").strides == (2, 2)
    x = to_network_input(_faces(cfg, "val"))
    np.testing.assert_allclose(rebuilt.predict(x, verbose=0), strided.predict(x, verbose=0),
                               atol=1e-5)
    with pytest.raises(ValueError, match="one first convolution"):
        build_model(stages=[(4, 2), (8, 1)], stem_stride=2)


def test_train_slims_its_init_network_and_strides_it(tiny_run, tmp_path):
    cfg, out = tiny_run
    run = tmp_path / "slim"
    train(tiny_config(cfg.data, run, init=str(out / "emotion_cnn.tflite"), slim=0.5,
                      stem_stride=2))
    model = keras.models.load_model(run / "last.keras")
    assert _filters(model) == [f // 2 for f, n in TINY_STAGES for _ in range(n)]
    assert model.get_layer("conv1_1").strides == (2, 2)
    config = json.loads((run / "state.json").read_text())["config"]
    assert (config["slim"], config["stem_stride"]) == (0.5, 2)


def test_a_tflite_of_another_network_is_refused(tiny_folder, tmp_path):
    inputs = keras.Input((48, 48, 1))
    other = keras.Model(inputs, keras.layers.Dense(7)(keras.layers.Flatten()(inputs)))
    path = export_tflite(other, tmp_path / "other.tflite")
    with pytest.raises(DataError, match="not this project's network"):
        train(tiny_config(tiny_folder, tmp_path / "run", init=str(path)))
    broken = tmp_path / "broken.tflite"
    broken.write_bytes(b"not a flatbuffer")
    with pytest.raises(DataError, match=f"cannot start from {broken}"):
        train(tiny_config(tiny_folder, tmp_path / "run", init=str(broken)))
