"""The GPU-machine training path: pack here, train (Keras, any backend), adopt here."""

import json
import time

import numpy as np
import pytest

pytest.importorskip("tensorflow",
                    reason="packing and adopting need TensorFlow (pip install '.[test]')")

import keras  # noqa: E402

from model import gpu_train  # noqa: E402
from model.augment import AugmentConfig  # noqa: E402
from model.classifier import EmotionClassifier  # noqa: E402
from model.network import build_model  # noqa: E402
from tests.conftest import TINY_STAGES, tiny_faces, write_tiny_folder  # noqa: E402


@pytest.fixture(scope="module")
def packed(tmp_path_factory):
    root = tmp_path_factory.mktemp("gpu")
    data = write_tiny_folder(root / "fer")
    return data, gpu_train.pack(str(data), str(root / "pack.npz"), work=str(root / "work"))


def test_the_pack_holds_exactly_the_faces_and_labels_that_were_loaded(packed):
    _, path = packed
    x, y, soft, xv, yv, about = gpu_train.load_pack(path)
    # write_tiny_folder writes PNG, so the faces read back are tiny_faces' exactly
    for (faces, labels), split in (((x, y), "train"), ((xv, yv), "val")):
        want, want_labels = tiny_faces(split)
        np.testing.assert_array_equal(faces, want)
        np.testing.assert_array_equal(labels, want_labels)
    assert soft.shape == (0, 7) and about["teacher"] is None


def test_camera_effects_change_training_faces_only_and_stay_in_range():
    layer = gpu_train.camera_effects_layer(keras, AugmentConfig(noise_p=1.0, erase_p=1.0), 3)
    faces = np.random.default_rng(0).uniform(0.2, 0.8, (16, 48, 48, 1)).astype(np.float32)
    seen = keras.ops.convert_to_numpy(layer(faces, training=True))
    assert seen.shape == faces.shape and seen.min() >= 0.0 and seen.max() <= 1.0
    # every face is changed (noise on all), and erasing leaves a block of changed pixels
    assert (np.abs(seen - faces).reshape(16, -1).max(axis=1) > 0.02).all()
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer(faces, training=False)), faces)


def test_a_past_deadline_stops_after_the_warm_up_and_adopt_exports_the_best(packed, tmp_path):
    data, path = packed
    history = gpu_train.run(str(path), str(tmp_path), seed=4, until=time.time() - 1,
                            targets="labels", batch_size=8, max_epochs=20,
                            stages=[list(s) for s in TINY_STAGES])
    # the warm-up's two epochs, then the one epoch that the schedule always gets
    assert len(history["val_accuracy"]) == 3 and history["epochs"] == 3
    saved = json.loads((tmp_path / "s4.history.json").read_text())
    assert saved["best_val_accuracy"] == max(saved["val_accuracy"])

    tflite = gpu_train.adopt(str(tmp_path / "s4.weights.h5"), str(tmp_path / "adopted"), str(data))
    net = keras.models.load_model(tmp_path / "adopted" / "best.keras")
    trained = build_model(stages=TINY_STAGES)
    trained.load_weights(tmp_path / "s4.weights.h5")
    for a, b in zip(net.get_weights(), trained.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert tflite == tmp_path / "adopted" / "emotion_cnn.tflite"
    probs = EmotionClassifier.load(tflite).predict(tiny_faces("val")[0])
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-3)
