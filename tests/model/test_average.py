"""The mean of several checkpoints (model.training.average, scripts/average_weights.py):
each weight the mean, other layouts refused, exported as `train` exports."""

import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("tensorflow", reason="averaging needs TensorFlow (pip install '.[test]')")

import keras  # noqa: E402

from model.runtime.classifier import EmotionClassifier  # noqa: E402
from model.runtime.errors import DataError  # noqa: E402
from model.training.average import average_models  # noqa: E402
from model.training.network import build_model  # noqa: E402
from tests.conftest import REPO, tiny_faces  # noqa: E402


@pytest.fixture()
def two_checkpoints(tiny_run, tmp_path):
    """The tiny run's best network, and a copy with every weight 1 + 3 times it."""
    _, out = tiny_run
    moved = keras.models.load_model(out / "best.keras", compile=False)
    moved.set_weights([1 + 3 * w for w in moved.get_weights()])
    moved.save(tmp_path / "moved.keras")
    return out / "best.keras", tmp_path / "moved.keras"


def test_every_weight_is_the_mean_batch_norm_statistics_too(two_checkpoints):
    best, moved = two_checkpoints
    mean = average_models([str(best), str(moved)])
    original = keras.models.load_model(best, compile=False).get_weights()
    assert len(mean.get_weights()) == len(original)
    for a, w in zip(mean.get_weights(), original):
        np.testing.assert_allclose(a, 0.5 + 2 * w, rtol=1e-5, atol=1e-6)
    assert any("moving_variance" in v.path for v in mean.weights)


def test_a_checkpoint_of_another_layout_is_refused_by_name(tiny_run, tmp_path):
    _, out = tiny_run
    other = build_model(stages=((6, 1), (8, 1)))
    other.save(tmp_path / "other.keras")
    with pytest.raises(DataError, match="other.keras is not of .*layout"):
        average_models([str(out / "best.keras"), str(tmp_path / "other.keras")])
    with pytest.raises(DataError, match="cannot read .*missing.keras"):
        average_models([str(out / "best.keras"), str(tmp_path / "missing.keras")])


def _script(*args):
    return subprocess.run([sys.executable, str(REPO / "scripts" / "average_weights.py"),
                           *map(str, args)], cwd=REPO, capture_output=True, text=True,
                          timeout=300)


def test_the_script_writes_the_mean_and_an_int8_model_the_app_reads(tiny_run, two_checkpoints,
                                                                    tmp_path):
    cfg, _ = tiny_run
    done = _script("--out", tmp_path / "soup", "--data", cfg.data, *two_checkpoints)
    assert done.returncode == 0, done.stderr[-2000:]
    tflite = tmp_path / "soup" / "emotion_cnn.tflite"
    assert done.stdout.strip() == str(tflite)
    saved = keras.models.load_model(tmp_path / "soup" / "mean.keras", compile=False)
    for a, b in zip(saved.get_weights(), average_models([str(p) for p in two_checkpoints])
                    .get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    model = EmotionClassifier.load(tflite)
    assert "calibrated" in done.stderr and model.calibration.temperature != 1.0  # as train's
    probs = model.predict(tiny_faces("test")[0][:2])
    assert probs.shape == (2, 7) and np.allclose(probs.sum(1), 1, atol=1e-3)


def test_the_script_says_in_one_line_what_it_refuses(tiny_run, tmp_path):
    _, out = tiny_run
    done = _script("--out", tmp_path / "soup", out / "best.keras", tmp_path / "missing.keras")
    assert done.returncode == 1
    assert done.stderr.strip().startswith("error: cannot read") and "Traceback" not in done.stderr
    assert not (tmp_path / "soup").exists()
