"""The multiply-adds a face counted from a network's file, and one pass's time."""

import json

import pytest

from model.runtime.classifier import DEFAULT_MODEL, LARGE_MODEL
from model.runtime.errors import ModelError
from model.runtime.network_cost import multiply_adds, one_pass_ms


def _export(tmp_path, name, build):
    pytest.importorskip("tensorflow", reason="writing a .tflite needs TensorFlow")
    import keras

    from model.training.export import export_tflite

    inputs = keras.Input((48, 48, 1))
    return export_tflite(keras.Model(inputs, build(keras.layers, inputs)), tmp_path / name)


def test_convolutions_and_the_dense_layer_are_counted_at_their_output_size(tmp_path):
    def build(layers, x):
        x = layers.Conv2D(4, 3, padding="same")(x)               # 48*48*4 * 3*3*1
        x = layers.MaxPooling2D(2)(x)
        x = layers.Conv2D(8, 3, strides=2, padding="same")(x)    # 12*12*8 * 3*3*4
        x = layers.DepthwiseConv2D(3, padding="same")(x)         # 12*12*8 * 3*3
        x = layers.GlobalAveragePooling2D()(x)
        return layers.Dense(7)(x)                                # 8*7

    path = _export(tmp_path, "small.tflite", build)
    assert multiply_adds(path) == 48 * 48 * 4 * 9 + 12 * 12 * 8 * 36 + 12 * 12 * 8 * 9 + 8 * 7
    assert one_pass_ms(path, repeats=5) > 0


def test_a_model_list_costs_the_sum_of_its_networks(tmp_path):
    def build(layers, x):
        return layers.Dense(7)(layers.GlobalAveragePooling2D()(layers.Conv2D(2, 3)(x)))

    _export(tmp_path, "a.tflite", build)
    (tmp_path / "two.json").write_text(json.dumps({"ensemble": ["a.tflite", "a.tflite"]}))
    one = 46 * 46 * 2 * 9 + 2 * 7                              # "valid": 46x46 out
    assert multiply_adds(tmp_path / "a.tflite") == one
    assert multiply_adds(tmp_path / "two.json") == 2 * one


def test_what_is_not_a_tflite_gets_a_clear_error(tmp_path):
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"not a model")
    with pytest.raises(ModelError, match="cannot read model .*bad.tflite"):
        multiply_adds(bad)
    with pytest.raises(ModelError, match="only a .tflite"):
        multiply_adds(tmp_path / "net.keras")



def test_the_default_network_costs_60_million_multiply_adds_at_most():
    # the bound its issue set: at most 60 M, about a quarter of the large network's 216 M
    default, large = multiply_adds(DEFAULT_MODEL), multiply_adds(LARGE_MODEL)
    assert default <= 60e6 and large == pytest.approx(216e6, rel=0.01)
