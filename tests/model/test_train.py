"""Training: both data layouts, checkpoints, stop and --resume, determinism."""

import json
import logging

import cv2
import numpy as np
import pytest

pytest.importorskip("tensorflow", reason="training needs TensorFlow (pip install '.[test]')")

import keras  # noqa: E402

from model.runtime.classifier import EmotionClassifier  # noqa: E402
from model.runtime.errors import DataError  # noqa: E402
from model.runtime.preprocess import to_network_input  # noqa: E402
from model.training import train as train_module  # noqa: E402
from model.training.data import load_dataset  # noqa: E402
from model.training.train import make_datasets, train  # noqa: E402
from tests.conftest import TINY_COUNTS, tiny_config  # noqa: E402

STEPS = -(-7 * TINY_COUNTS["train"] // 8)  # batches per epoch at batch size 8
METRICS = {"loss", "accuracy", "val_loss", "val_accuracy", "learning_rate", "seconds"}


def _weights(path):
    return keras.models.load_model(path).get_weights()


def _iterations(path) -> int:
    return int(keras.models.load_model(path).optimizer.iterations)


def _without_time(history: dict) -> dict:
    return {k: v for k, v in history.items() if k != "seconds"}


def test_one_epoch_on_the_folder_layout_writes_every_output(tiny_run):
    cfg, out = tiny_run
    state = json.loads((out / "state.json").read_text())
    assert state["epoch"] == 1 and state["config"]["stages"] == [[4, 1], [8, 1]]
    history = json.loads((out / "history.json").read_text())
    assert set(history) == METRICS and all(len(v) == 1 for v in history.values())
    assert state["best_val_accuracy"] == max(history["val_accuracy"])
    assert _iterations(out / "last.keras") == STEPS
    assert cv2.imread(str(out / "curves.png")).shape == (700, 800, 3)  # matplotlib, 8x7 in
    assert not (out / "loss.png").exists()  # accuracy and loss share curves.png
    probs = EmotionClassifier.load(out / "emotion_cnn.tflite").predict(
        np.zeros((3, 48, 48), np.uint8))
    assert probs.shape == (3, 7)
    assert not list(out.glob(".*")), "temporary files left behind"


def test_one_epoch_on_the_csv_layout(tiny_csv, tmp_path):
    path = train(tiny_config(tiny_csv, tmp_path / "run"))
    assert path == tmp_path / "run" / "emotion_cnn.tflite" and path.is_file()
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert all(len(v) == 1 for v in history.values())


def test_a_stopped_run_resumes_where_it_stopped(tiny_folder, tmp_path, monkeypatch, caplog):
    out = tmp_path / "run"
    cfg = tiny_config(tiny_folder, out, epochs=3)
    real_rate = train_module.learning_rate

    def stop_at_epoch_2(cfg, epoch):
        if epoch == 1:
            raise KeyboardInterrupt  # as Ctrl+C would, at the start of the second epoch
        return real_rate(cfg, epoch)

    monkeypatch.setattr(train_module, "learning_rate", stop_at_epoch_2)
    with pytest.raises(KeyboardInterrupt):
        train(cfg)
    monkeypatch.undo()
    state = json.loads((out / "state.json").read_text())
    assert state["epoch"] == 1 and not (out / "emotion_cnn.tflite").exists()
    assert _iterations(out / "last.keras") == STEPS
    first_epoch = state["history"]

    # --resume keeps the stored recipe; the command line's --epochs may change
    with caplog.at_level(logging.INFO, logger="model.training.train"):
        train(tiny_config(tiny_folder, out, epochs=2, lr=0.5, batch_size=4), resume=True)
    assert any("resuming" in r.getMessage() and "at epoch 2 of 2" in r.getMessage()
               for r in caplog.records)
    history = json.loads((out / "history.json").read_text())
    assert all(len(v) == 2 for v in history.values())
    assert _without_time({k: v[:1] for k, v in history.items()}) == _without_time(first_epoch)
    assert _iterations(out / "last.keras") == 2 * STEPS  # optimizer state carried over
    state = json.loads((out / "state.json").read_text())
    assert state["epoch"] == 2 and state["config"]["lr"] == cfg.lr
    assert history["learning_rate"][1] == pytest.approx(train_module.learning_rate(
        tiny_config(tiny_folder, out, epochs=2), 1))
    assert (out / "emotion_cnn.tflite").is_file()


def test_resume_with_an_unreadable_state_file_names_it(tiny_folder, tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "state.json").write_text("{ not json")
    with pytest.raises(DataError, match=f"cannot resume: {out / 'state.json'} is unreadable"):
        train(tiny_config(tiny_folder, out), resume=True)


def test_training_is_deterministic_given_the_seed(tiny_run, tmp_path):
    cfg, out = tiny_run
    again = train(tiny_config(cfg.data, tmp_path / "again", quantize=True)).parent
    other_seed = train(tiny_config(cfg.data, tmp_path / "seed2", seed=2)).parent
    same = _weights(out / "last.keras")
    for a, b in zip(same, _weights(again / "last.keras")):
        np.testing.assert_array_equal(a, b)
    assert (_without_time(json.loads((out / "history.json").read_text()))
            == _without_time(json.loads((again / "history.json").read_text())))
    assert (out / "emotion_cnn.tflite").read_bytes() == (again / "emotion_cnn.tflite").read_bytes()
    assert not all(np.array_equal(a, b) for a, b in zip(same, _weights(other_seed / "last.keras")))


def test_the_training_pipeline_feeds_the_network_the_shared_preprocessing(tiny_folder):
    data = load_dataset(tiny_folder)
    _, val = make_datasets(data, tiny_config(tiny_folder, "unused"))
    x = np.concatenate([batch_x.numpy() for batch_x, _ in val])
    np.testing.assert_array_equal(x, to_network_input(data["val"].x))


def test_a_wrong_data_folder_fails_before_training(tmp_path):
    (tmp_path / "data").mkdir()
    with pytest.raises(DataError, match="wrong layout"):
        train(tiny_config(tmp_path / "data", tmp_path / "run"))
    assert not (tmp_path / "run" / "state.json").exists()


def test_distillation_mixes_the_teachers_probabilities_into_the_targets(tiny_run, tmp_path,
                                                                        monkeypatch):
    from model.training.train import TEACHER_CACHE, soften, training_targets

    cfg, out = tiny_run
    teacher = str(out / "emotion_cnn.tflite")
    student = tiny_config(cfg.data, tmp_path / "student", teacher=teacher,
                          teacher_weight=0.6, temperature=2.0, init=str(out / "best.keras"))
    data = load_dataset(cfg.data)
    (tmp_path / "student").mkdir()
    targets = training_targets(student, data, tmp_path / "student")
    probs = EmotionClassifier.load(teacher, five_crops=True).predict(data["train"].x)
    onehot = np.eye(7, dtype=np.float32)[data["train"].y]
    np.testing.assert_allclose(targets, 0.6 * soften(probs, 2.0) + 0.4 * onehot, atol=1e-5)
    np.testing.assert_allclose(targets.sum(axis=1), 1.0, atol=1e-5)
    assert (tmp_path / "student" / TEACHER_CACHE).is_file()

    # a resumed run reads the cache instead of running the teacher again
    monkeypatch.setattr(EmotionClassifier, "load", lambda *a, **k: pytest.fail("teacher rerun"))
    np.testing.assert_array_equal(training_targets(student, data, tmp_path / "student"), targets)


def test_a_teacher_on_augmented_batches_reads_what_the_student_sees(tiny_run):
    from model.training.train import soften, training_targets

    cfg, out = tiny_run
    teacher = str(out / "emotion_cnn.tflite")
    data = load_dataset(cfg.data)
    reader = EmotionClassifier.load(teacher, threads=1)
    onehot = np.eye(7, dtype=np.float32)[data["train"].y]
    for on in ("augmented", "clean"):
        # (sharpened: the tiny network's one epoch reads nearly 1/7 for everything)
        student = tiny_config(cfg.data, "unused", teacher=teacher, teacher_weight=1.0,
                              temperature=0.05, teacher_on=on)
        targets = training_targets(student, data, out)
        if on == "augmented":   # the labels alone: the teacher comes in with each batch
            np.testing.assert_array_equal(targets, onehot)
        train_ds, _ = make_datasets(data, student, targets)
        x, y = next(iter(train_ds))
        faces = np.round(x.numpy()[..., 0] * 255).astype(np.uint8)
        read = soften(reader.predict(faces), 0.05)
        if on == "augmented":
            np.testing.assert_allclose(y.numpy(), read, atol=1e-5)
        else:                   # read once on the clean faces: not what this batch shows
            assert np.abs(y.numpy() - read).max() > 0.01


def test_temperature_flattens_and_keeps_the_order():
    from model.training.train import soften

    p = np.array([[0.7, 0.2, 0.1, 0, 0, 0, 0]], np.float32)
    warm = soften(p, 2.0)
    assert warm[0, 0] < 0.7 and warm[0, 2] > 0.1 \
        and list(np.argsort(warm[0])) == list(np.argsort(p[0]))
    np.testing.assert_allclose(soften(p, 1.0), p, atol=1e-6)


def test_a_student_starts_from_the_init_network(tiny_run, tmp_path):
    cfg, out = tiny_run
    student = tiny_config(cfg.data, tmp_path / "student", epochs=1, lr=0.0, warmup_epochs=0,
                          teacher=str(out / "emotion_cnn.tflite"), init=str(out / "best.keras"))
    train(student)
    # learning rate 0: the student's weights are the init network's (batch-norm
    # statistics aside, which move without a learning rate)
    student = tmp_path / "student" / "last.keras"
    for layer_a, layer_b in zip(keras.models.load_model(out / "best.keras").layers,
                                keras.models.load_model(student).layers):
        if layer_a.name.startswith("conv") or layer_a.name == "emotion":
            for a, b in zip(layer_a.get_weights(), layer_b.get_weights()):
                np.testing.assert_array_equal(a, b)


def test_an_unreadable_init_network_is_named(tiny_folder, tmp_path):
    bad = tmp_path / "broken.keras"
    bad.write_bytes(b"not a zip")
    with pytest.raises(DataError, match=f"cannot start from {bad}"):
        train(tiny_config(tiny_folder, tmp_path / "run", init=str(bad)))


def test_an_init_network_of_another_shape_is_refused(tiny_folder, tmp_path):
    inputs = keras.Input((32, 32, 1))
    other = keras.Model(inputs, keras.layers.Dense(7)(keras.layers.Flatten()(inputs)))
    other.save(tmp_path / "other.keras")
    with pytest.raises(DataError, match="not a 48x48 face to 7 emotions"):
        train(tiny_config(tiny_folder, tmp_path / "run", init=str(tmp_path / "other.keras")))


def test_mixup_blends_each_face_and_its_target_with_one_partner():
    import tensorflow as tf

    from model.training.augment import mixup

    rng = np.random.default_rng(0)
    x = rng.random((16, 48, 48, 1)).astype(np.float32)
    y = np.eye(16, dtype=np.float32)                  # one class per face: partners show
    tf.random.set_seed(1)
    mx, my = (np.asarray(v) for v in mixup(tf.constant(x), tf.constant(y), 0.4))
    np.testing.assert_allclose(my.sum(axis=1), 1.0, atol=1e-6)
    blended = 0
    for i in range(16):
        lam = my[i, i]
        assert lam >= 0.5 - 1e-6                      # each face stays mostly itself
        others = [j for j in np.flatnonzero(my[i] > 1e-6) if j != i]
        assert len(others) <= 1
        j = others[0] if others else i
        np.testing.assert_allclose(mx[i], lam * x[i] + (1 - lam) * x[j], atol=1e-5)
        blended += bool(others) and lam < 0.95
    assert blended >= 4


def test_the_weight_average_is_what_is_scored_and_saved(tiny_run, tmp_path):
    cfg, out = tiny_run
    moved = {}
    for ema in (0.0, 0.999):
        run = tiny_config(cfg.data, tmp_path / f"ema{ema}", epochs=3, warmup_epochs=0,
                          lr=0.01, init=str(out / "best.keras"), ema=ema)
        train(run)
        state = json.loads((tmp_path / f"ema{ema}" / "state.json").read_text())
        assert state["config"]["ema"] == ema
        start, saved = (keras.models.load_model(p).trainable_weights
                        for p in (out / "best.keras", tmp_path / f"ema{ema}" / "last.keras"))
        moved[ema] = sum(float(np.abs(np.asarray(a) - np.asarray(b)).sum())
                         for a, b in zip(start, saved))
    # keras starts the average at the weights after the first batch; with momentum
    # 0.999 it stays there over a dozen more, while the weights themselves go on
    assert moved[0.999] < 0.5 * moved[0.0]


def test_camera_effects_change_training_faces_only_and_stay_in_range():
    from model.training.augment import AugmentConfig, CameraEffects

    layer = CameraEffects(AugmentConfig(noise_p=1.0, erase_p=1.0), 3)
    faces = np.random.default_rng(0).uniform(0.2, 0.8, (16, 48, 48, 1)).astype(np.float32)
    seen = keras.ops.convert_to_numpy(layer(faces, training=True))
    assert seen.shape == faces.shape and seen.min() >= 0.0 and seen.max() <= 1.0
    # every face is changed (noise on all), and erasing leaves a block of changed pixels
    assert (np.abs(seen - faces).reshape(16, -1).max(axis=1) > 0.02).all()
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer(faces, training=False)), faces)
    # the layer's own seed: the same seed draws the same faces, inside tf.data too
    import tensorflow as tf

    again = CameraEffects(AugmentConfig(noise_p=1.0, erase_p=1.0), 3)
    batches = tf.data.Dataset.from_tensor_slices(faces).batch(16).map(
        lambda x: again(x, training=True))
    np.testing.assert_allclose(next(iter(batches)).numpy(), seen, atol=1e-6)


def test_low_resolution_is_tensorflows_area_downscale_and_bilinear_upscale():
    import tensorflow as tf

    from model.training.augment import _low_resolution_matrices

    face = np.random.default_rng(0).uniform(0, 1, (48, 48)).astype(np.float32)
    for m, size in zip(_low_resolution_matrices(), range(16, 37)):
        small = tf.image.resize(face[None, :, :, None], (size, size), method="area")
        want = tf.image.resize(small, (48, 48), method="bilinear").numpy()[0, :, :, 0]
        np.testing.assert_allclose(m @ face @ m.T, want, atol=1e-5)
