"""Starting a run from a shipped .tflite, and widening, slimming or rechannelling a trained
network."""

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
from model.training.network import build_model, has_blocks  # noqa: E402
from model.training.train import train  # noqa: E402
from model.training.warm_start import (  # noqa: E402
    keras_from_tflite,
    rechannel,
    slim,
    space_to_depth,
    stage_filters,
    widen,
)
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


def test_widen_slim_or_channels_without_init_is_refused(tiny_folder, tmp_path):
    for change in ({"widen": 2.0}, {"slim": 0.5}, {"channels": [4, 4]}):
        with pytest.raises(DataError, match="--widen, --slim and --channels need --init"):
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


def test_rechannel_widens_one_stage_and_slims_the_next(tiny_run):
    cfg, out = tiny_run
    full = keras.models.load_model(out / "best.keras")   # TINY_STAGES: 4 then 8 filters
    new = rechannel(full, stage_filters(full, [6, 5]), seed=1)
    assert _filters(new) == [6, 5]
    first, second = (layer.name for layer in full.layers
                     if isinstance(layer, keras.layers.Conv2D))
    # the first stage keeps its four channels and adds copies of two of them
    kernel, old = new.get_layer(first).get_weights()[0], full.get_layer(first).get_weights()[0]
    np.testing.assert_array_equal(kernel[..., :4], old)
    assert all(any(np.array_equal(kernel[..., c], old[..., o]) for o in range(4))
               for c in (4, 5))
    # the second keeps the five channels its batch norm scales most; their weights from
    # an original first-stage channel and its copy add up to what that channel had
    gamma, _, _, var = full.get_layer("bn2_1").get_weights()
    kept = np.sort(np.argsort(-np.abs(gamma) / np.sqrt(var + 1e-3))[:5])
    np.testing.assert_array_equal(new.get_layer("bn2_1").get_weights()[0], gamma[kept])
    old2 = full.get_layer(second).get_weights()[0][..., kept]
    new2 = new.get_layer(second).get_weights()[0]
    copied = [next(o for o in range(4) if np.array_equal(kernel[..., c], old[..., o]))
              for c in (4, 5)]
    summed = new2[:, :, :4].copy()
    for c, o in zip((4, 5), copied):
        summed[:, :, o] += new2[:, :, c]
    np.testing.assert_allclose(summed, old2, atol=1e-6)
    with pytest.raises(ValueError, match="3 numbers of channels for 2 stages"):
        stage_filters(full, [4, 4, 4])


def test_a_strided_first_convolution_replaces_the_first_pool(tiny_run, tmp_path):
    cfg, out = tiny_run
    strided = slim(keras.models.load_model(out / "best.keras"), 1.0, stem_stride=2)
    assert strided.get_layer("conv1_1").strides == (2, 2)
    assert "pool1" not in [layer.name for layer in strided.layers]
    assert strided.get_layer("conv2_1").input.shape[1:3] == (24, 24)
    # the file runs it as 2x2 pixel blocks and a 2x2 convolution (export.fast_stem) ...
    path = export_tflite(strided, tmp_path / "strided.tflite")
    ops = _ops(path)
    assert ops[ops.index("CONV_2D") - 1] == "SPACE_TO_DEPTH"
    # ... and it comes back from its .tflite as it was (stride, 3x3 kernel and all)
    rebuilt = keras_from_tflite(path, _faces(cfg, "train"))
    assert rebuilt.get_layer("conv1_1").strides == (2, 2)
    assert not has_blocks(rebuilt)
    # every tap where it was: the file folds the batch norm in, a scale per channel
    ratio = (rebuilt.get_layer("conv1_1").get_weights()[0]
             / strided.get_layer("conv1_1").get_weights()[0])
    np.testing.assert_allclose(ratio, np.broadcast_to(ratio[:1, :1], ratio.shape), rtol=1e-4)
    x = to_network_input(_faces(cfg, "val"))
    np.testing.assert_allclose(rebuilt.predict(x, verbose=0), strided.predict(x, verbose=0),
                               atol=1e-5)
    with pytest.raises(ValueError, match="one first convolution"):
        build_model(stages=[(4, 2), (8, 1)], stem_stride=2)


def _ops(path):
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(str(path))
    interpreter.allocate_tensors()
    return [op["op_name"] for op in interpreter._get_ops_details()]  # noqa: SLF001


def test_space_to_depth_drops_the_first_stage_and_keeps_every_later_layer(tmp_path):
    keras.utils.set_random_seed(3)
    full = build_model(stages=[(4, 1), (8, 2), (16, 1)])
    for layer in full.layers:      # batch norms that are not the identity
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.set_weights([np.random.uniform(0.5, 2, w.shape).astype("float32")
                               for w in layer.get_weights()])
    w, b = full.get_layer("emotion").get_weights()
    full.get_layer("emotion").set_weights([w, np.linspace(-1, 1, len(b), dtype="float32")])
    blocks = space_to_depth(full)
    assert has_blocks(blocks) and not has_blocks(full)
    assert blocks.get_layer("conv1_1").input.shape[1:] == (24, 24, 4)
    assert _filters(blocks) == [8, 8, 16]
    for old, new in (("2_2", "1_2"), ("3_1", "2_1")):
        for kind in ("conv", "bn"):
            for a, b in zip(full.get_layer(kind + old).get_weights(),
                            blocks.get_layer(kind + new).get_weights()):
                np.testing.assert_array_equal(a, b)
    # the new first convolution starts afresh; its batch norm keeps scale and shift
    bn_old, bn_new = full.get_layer("bn2_1").get_weights(), blocks.get_layer("bn1_1").get_weights()
    np.testing.assert_array_equal(bn_old[:2], bn_new[:2])
    np.testing.assert_array_equal(full.get_layer("emotion").get_weights()[1],
                                  blocks.get_layer("emotion").get_weights()[1])
    # its .tflite runs the blocks as LiteRT's own op, and comes back as it is
    path = export_tflite(blocks, tmp_path / "blocks.tflite")
    assert _ops(path)[0] == "SPACE_TO_DEPTH"
    faces = np.random.default_rng(0).integers(0, 256, (64, 48, 48), dtype=np.uint8)
    rebuilt = keras_from_tflite(path, faces)
    assert has_blocks(rebuilt) and _filters(rebuilt) == [8, 8, 16]
    x = to_network_input(faces)
    np.testing.assert_allclose(rebuilt.predict(x, verbose=0), blocks.predict(x, verbose=0),
                               atol=1e-5)
    with pytest.raises(ValueError, match="not both"):
        build_model(stages=[(4, 1), (8, 1)], stem_stride=2, space_to_depth=True)


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


def test_train_gives_its_init_network_the_channels_asked_for(tiny_run, tmp_path):
    cfg, out = tiny_run
    run = tmp_path / "channels"
    train(tiny_config(cfg.data, run, init=str(out / "emotion_cnn.tflite"), channels=[8, 6]))
    assert _filters(keras.models.load_model(run / "last.keras")) == [8, 6]
    assert json.loads((run / "state.json").read_text())["config"]["channels"] == [8, 6]
    with pytest.raises(DataError, match="cannot reshape .*1 numbers of channels for 2"):
        train(tiny_config(cfg.data, tmp_path / "wrong", init=str(out / "emotion_cnn.tflite"),
                          channels=[8]))


def test_train_puts_its_init_network_on_pixel_blocks_and_resumes_it(tiny_run, tmp_path):
    cfg, out = tiny_run
    run = tmp_path / "blocks"
    train(tiny_config(cfg.data, run, init=str(out / "emotion_cnn.tflite"), space_to_depth=True))
    model = keras.models.load_model(run / "last.keras")   # the blocks layer is saved too
    assert has_blocks(model)
    assert _filters(model) == [f for f, n in TINY_STAGES[1:] for _ in range(n)]
    assert json.loads((run / "state.json").read_text())["config"]["space_to_depth"] is True
    train(tiny_config(cfg.data, run, epochs=2), resume=True)
    assert has_blocks(keras.models.load_model(run / "last.keras"))


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
