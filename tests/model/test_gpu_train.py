"""The GPU-machine training script (scripts/gpu_train.py): pack here, train (Keras, any
backend), adopt here."""

import importlib.util
import json
import subprocess
import sys
import time

import numpy as np
import pytest

from tests.conftest import REPO, TINY_STAGES, tiny_faces, write_tiny_folder

SCRIPT = REPO / "scripts" / "gpu_train.py"


def test_the_script_runs_from_the_checkout():
    out = subprocess.run([sys.executable, str(SCRIPT), "--help"], capture_output=True,
                         text=True, timeout=60, cwd=REPO / "scripts")
    assert out.returncode == 0, out.stderr
    assert all(command in out.stdout for command in ("pack", "probe", "run", "adopt"))


pytest.importorskip("tensorflow",
                    reason="packing and adopting need TensorFlow (pip install '.[test]')")

import keras  # noqa: E402

from model.runtime.classifier import EmotionClassifier  # noqa: E402
from model.training.augment import CameraEffects  # noqa: E402
from model.training.network import build_model  # noqa: E402

_spec = importlib.util.spec_from_file_location("gpu_train", SCRIPT)
assert _spec is not None and _spec.loader is not None, SCRIPT
gpu_train = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gpu_train)


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


def test_the_training_model_augments_with_the_layers_that_train_uses():
    _, model = gpu_train.training_model(keras, seed=1, stages=TINY_STAGES)
    augment = model.get_layer("augment")
    assert [type(layer) for layer in augment.layers][-1] is CameraEffects


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
