"""EmotionClassifier: shapes, batching, flip, .keras/.tflite agreement, bad model files."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from model import EMOTIONS
from model.runtime import classifier
from model.runtime.calibration import NONE
from model.runtime.classifier import (
    ACCURATE_MODEL,
    DEFAULT_MODEL,
    LARGE_MODEL,
    EmotionClassifier,
    load_classifier,
)
from model.runtime.errors import ModelError
from tests.conftest import REPO, tiny_faces


@pytest.fixture(scope="module")
def faces():
    return tiny_faces("val")[0]  # 21 distinct faces


@pytest.fixture(scope="module")
def shipped():
    return EmotionClassifier.load()


def test_the_shipped_model_loads_from_assets(shipped):
    assert shipped.path == DEFAULT_MODEL and shipped.flip


def test_the_classifier_made_without_arguments_is_the_shipped_model(shipped, faces):
    """`EmotionClassifier()`, like `EmotionPipeline()`: the shipped model as `load()`
    gives it, its file's calibration included."""
    plain = EmotionClassifier()
    assert plain.path == DEFAULT_MODEL and plain.flip and plain.threads == 2
    assert plain.calibration == shipped.calibration != NONE
    np.testing.assert_array_equal(plain.predict(faces), shipped.predict(faces))


def test_predict_gives_one_probability_row_per_face(shipped, faces):
    probs = shipped.predict(faces)
    assert probs.dtype == np.float32 and probs.shape == (len(faces), len(EMOTIONS))
    assert (probs >= 0).all()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)


def test_a_single_face_gives_a_batch_of_one(shipped, faces):
    single = shipped.predict(faces[0])
    assert single.shape == (1, len(EMOTIONS)) and single.dtype == np.float32
    np.testing.assert_allclose(single, shipped.predict(faces[:1]), atol=1e-6)


def test_an_empty_batch_gives_no_rows(shipped):
    probs = shipped.predict(np.zeros((0, 48, 48), np.uint8))
    assert probs.shape == (0, len(EMOTIONS)) and probs.dtype == np.float32


@pytest.mark.parametrize("shape", [(48, 48, 3), (2, 32, 32), (2, 48, 48, 1, 1)])
def test_faces_of_the_wrong_shape_are_refused(shipped, shape):
    with pytest.raises(ValueError, match="expected uint8 faces"):
        shipped.predict(np.zeros(shape, np.uint8))


@pytest.fixture(scope="module")
def model_files(tiny_run, tmp_path_factory):
    """The tiny run's .keras, its int8 .tflite and a float .tflite of the same weights."""
    import keras

    from model.training.export import export_tflite

    _, out = tiny_run
    float_path = tmp_path_factory.mktemp("float") / "float.tflite"
    export_tflite(keras.models.load_model(out / "best.keras"), float_path)
    return out / "best.keras", out / "emotion_cnn.tflite", float_path


@pytest.mark.parametrize("which", [0, 1, 2], ids=["keras", "int8-tflite", "float-tflite"])
def test_a_batch_gives_the_same_as_one_face_at_a_time(model_files, faces, which):
    clf = EmotionClassifier.load(model_files[which])
    batch = clf.predict(faces)
    one_by_one = np.concatenate([clf.predict(face) for face in faces])
    np.testing.assert_allclose(batch, one_by_one, atol=1e-5)


def test_the_flip_averages_a_face_and_its_mirror_image(model_files, faces):
    plain = EmotionClassifier.load(model_files[2], flip=False)
    mirrored = plain.predict(faces[:, :, ::-1].copy())
    expected = (plain.predict(faces) + mirrored) / 2
    flipped = EmotionClassifier.load(model_files[2], flip=True).predict(faces)
    np.testing.assert_allclose(flipped, expected / expected.sum(axis=1, keepdims=True), atol=1e-6)
    assert not np.allclose(flipped, plain.predict(faces), atol=1e-6)  # the flip did something


def test_accurate_mode_averages_the_face_and_five_crops(model_files, faces):
    import cv2

    plain = EmotionClassifier.load(model_files[2], flip=False)
    views = [faces]
    for y0, x0 in ((2, 2), (0, 0), (0, 4), (4, 0), (4, 4)):  # centre, then the corners
        views.append(np.stack([cv2.resize(f[y0:y0 + 44, x0:x0 + 44], (48, 48),
                                          interpolation=cv2.INTER_LINEAR) for f in faces]))
    # the network sees crops of the [0, 1] floats; round-tripping through uint8 here
    # differs by at most half a grey level, hence the tolerance
    expected = np.mean([plain.predict(v) for v in views], axis=0)
    got = EmotionClassifier.load(model_files[2], flip=False, five_crops=True).predict(faces)
    np.testing.assert_allclose(got, expected / expected.sum(axis=1, keepdims=True), atol=2e-3)
    assert np.abs(got - plain.predict(faces)).max() > 1e-3  # the crops changed the answer
    both = EmotionClassifier.load(model_files[2], flip=True, five_crops=True)
    np.testing.assert_allclose(both.predict(faces[3]), both.predict(faces)[3:4], atol=1e-5)


def test_the_shipped_accurate_file_reads_the_large_network_on_five_crops(faces):
    spec = json.loads(ACCURATE_MODEL.read_text(encoding="utf-8"))
    assert spec["ensemble"] == [LARGE_MODEL.name] and spec["five_crops"] is True
    accurate = load_classifier(accurate=True)
    assert (accurate.path, accurate.networks, accurate.five_crops) == (ACCURATE_MODEL, 1, True)
    # the network's own five-crop reading, then the file's calibration (fitted for it)
    raw = EmotionClassifier.load(LARGE_MODEL, calibrated=False, five_crops=True).predict(faces)
    np.testing.assert_allclose(accurate.predict(faces), accurate.calibration.apply(raw),
                               atol=1e-5)
    assert accurate.calibration != EmotionClassifier.load().calibration
    # the crops change the reading: it is not the default's
    assert np.abs(accurate.predict(faces) - EmotionClassifier.load().predict(faces)).max() > 1e-2


def test_accurate_with_a_model_of_ones_own_means_its_crops(model_files):
    clf = load_classifier(model_files[2], accurate=True, flip=False)
    assert (clf.path, clf.five_crops, clf.flip) == (model_files[2], True, False)
    plain = load_classifier(model_files[2])
    assert (plain.path, plain.five_crops) == (model_files[2], False)


def test_keras_and_exported_tflite_models_agree(model_files, faces):
    import keras

    from model.runtime.preprocess import to_network_input

    keras_path, int8_path, float_path = model_files
    direct = np.asarray(keras.models.load_model(keras_path)(to_network_input(faces)))
    from_keras = EmotionClassifier.load(keras_path, flip=False).predict(faces)
    np.testing.assert_allclose(from_keras, direct, atol=1e-6)
    np.testing.assert_allclose(EmotionClassifier.load(float_path, flip=False).predict(faces),
                               from_keras, atol=1e-5)
    # int8 weights and activations: close, not equal
    int8 = EmotionClassifier.load(int8_path, flip=False).predict(faces)
    assert np.abs(int8 - from_keras).max() < 0.05


# ---- ensembles: a .json file that lists networks ------------------------------

@pytest.fixture(scope="module")
def ensemble(model_files, tmp_path_factory):
    """A .json listing the tiny run's float .tflite and an untrained network's .keras."""
    import keras

    from model.training.network import build_model

    folder = tmp_path_factory.mktemp("ensemble")
    (folder / "nets").mkdir()
    keras.utils.set_random_seed(3)
    build_model(stages=((4, 1), (8, 1))).save(folder / "nets" / "other.keras")
    (folder / "nets" / "trained.tflite").write_bytes(model_files[2].read_bytes())
    spec = folder / "both.json"
    spec.write_text(json.dumps({"ensemble": ["nets/trained.tflite", "nets/other.keras"]}))
    return spec, folder / "nets" / "trained.tflite", folder / "nets" / "other.keras"


@pytest.mark.parametrize("flip", [False, True])
def test_an_ensemble_averages_its_networks(ensemble, faces, flip):
    spec, *members = ensemble
    each = [EmotionClassifier.load(m, flip=flip).predict(faces) for m in members]
    clf = EmotionClassifier.load(spec, flip=flip)
    assert clf.path == spec
    got = clf.predict(faces)
    assert got.shape == (len(faces), len(EMOTIONS)) and got.dtype == np.float32
    np.testing.assert_allclose(got, (each[0] + each[1]) / 2, atol=1e-5)
    assert np.abs(each[0] - each[1]).max() > 0.01  # two different networks were averaged
    np.testing.assert_allclose(clf.predict(faces[0]), got[:1], atol=1e-5)


def test_the_face_or_its_mirror_image_can_be_asked_alone(model_files, faces):
    clf = EmotionClassifier.load(model_files[2])
    alone = EmotionClassifier.load(model_files[2], flip=False)
    np.testing.assert_allclose(clf.predict(faces, mirrored=False), alone.predict(faces),
                               atol=1e-5)
    np.testing.assert_allclose(clf.predict(faces, mirrored=True),
                               alone.predict(faces[:, :, ::-1].copy()), atol=1e-5)
    np.testing.assert_allclose((clf.predict(faces, mirrored=False)
                                + clf.predict(faces, mirrored=True)) / 2,
                               clf.predict(faces), atol=1e-5)
    assert not np.allclose(clf.predict(faces, mirrored=True), alone.predict(faces), atol=1e-6)


def test_one_network_of_an_ensemble_can_be_asked_alone(ensemble, faces):
    spec, *members = ensemble
    clf = EmotionClassifier.load(spec)
    assert clf.networks == 2 and EmotionClassifier.load(members[0]).networks == 1
    for i, member in enumerate(members):
        alone = EmotionClassifier.load(member).predict(faces)
        np.testing.assert_allclose(clf.predict(faces, network=i), alone, atol=1e-5)
        np.testing.assert_allclose(clf.predict(faces, network=i + 2), alone, atol=1e-5)


@pytest.mark.parametrize("content, shown", [
    ("{not json", "not a valid .json model list ("),
    ('["a.tflite"]', 'expected {"ensemble": ["network.tflite", ...]}'),
    ('{"ensemble": []}', "with at least one file name"),
    ('{"ensemble": ["a.tflite", 3]}', "with at least one file name"),
])
def test_a_bad_ensemble_file_is_refused_with_its_path(tmp_path, content, shown):
    path = tmp_path / "model.json"
    path.write_text(content)
    with pytest.raises(ModelError) as err:
        EmotionClassifier.load(path)
    assert str(err.value).startswith(f"cannot read model {path}: ")
    assert shown in str(err.value) and "\n" not in str(err.value)


def test_an_ensemble_names_a_missing_or_unusable_member(ensemble, tmp_path, wrong_models):
    spec = tmp_path / "model.json"
    spec.write_text(json.dumps({"ensemble": [str(ensemble[1]), "gone.tflite"]}))
    with pytest.raises(ModelError) as err:
        EmotionClassifier.load(spec)
    assert str(err.value) == f"model file not found: {tmp_path / 'gone.tflite'} (listed in {spec})"
    spec.write_text(json.dumps({"ensemble": [str(ensemble[0])]}))  # no ensembles of ensembles
    with pytest.raises(ModelError, match=r"unknown model type .*both.json \(listed in .*: "
                                         r"expected a .tflite or .keras file"):
        EmotionClassifier.load(spec)
    wrong = wrong_models["classes5"].with_suffix(".tflite")
    spec.write_text(json.dumps({"ensemble": [str(wrong)]}))
    with pytest.raises(ModelError, match=f"{wrong} is not an emotion model"):
        EmotionClassifier.load(spec)


# ---- bad model files: one clear message that names the path ------------------

@pytest.fixture(scope="module")
def wrong_models(tmp_path_factory):
    """Working models of another task: 32x32 input, or 5 classes; .keras and .tflite."""
    keras = pytest.importorskip("keras", reason="needs Keras to build models")
    from model.training.export import export_tflite

    folder = tmp_path_factory.mktemp("wrong")
    paths = {}
    for name, side, classes in (("input32", 32, 7), ("classes5", 48, 5)):
        inputs = keras.Input((side, side, 1))
        outputs = keras.layers.Dense(classes, activation="softmax")(keras.layers.Flatten()(inputs))
        model = keras.Model(inputs, outputs)
        model.save(folder / f"{name}.keras")
        export_tflite(model, folder / f"{name}.tflite")
        paths[name] = folder / name
    return paths


@pytest.mark.parametrize("suffix", [".tflite", ".keras"])
@pytest.mark.parametrize("name, shown", [
    ("input32", "takes (32, 32, 1) and gives (7,)"),
    ("classes5", "takes (48, 48, 1) and gives (5,)"),
])
def test_a_model_for_another_task_is_refused(wrong_models, name, shown, suffix):
    path = wrong_models[name].with_suffix(suffix)
    with pytest.raises(ModelError) as err:
        EmotionClassifier.load(path)
    assert str(err.value) == (f"{path} is not an emotion model: it {shown}, "
                              "expected (48, 48, 1) -> (7,)")


@pytest.mark.parametrize("suffix", [".tflite", ".keras"])
@pytest.mark.parametrize("damage", ["truncated", "empty", "text"])
def test_a_damaged_model_file_is_refused_with_its_path(model_files, tmp_path, suffix, damage):
    good = (model_files[0] if suffix == ".keras" else model_files[1]).read_bytes()
    content = {"truncated": good[: len(good) // 2], "empty": b"",
               "text": b"this is not a model\n" * 20}[damage]
    path = tmp_path / f"model{suffix}"
    path.write_bytes(content)
    with pytest.raises(ModelError) as err:
        EmotionClassifier.load(path)
    message = str(err.value)
    assert message.startswith(f"cannot read model {path}: not a valid {suffix} file (")
    assert "\n" not in message


def test_a_missing_model_file_is_named(tmp_path):
    with pytest.raises(ModelError, match=f"model file not found: {tmp_path / 'gone.tflite'}"):
        EmotionClassifier.load(tmp_path / "gone.tflite")


def test_a_folder_or_an_unknown_file_type_is_refused(tmp_path):
    with pytest.raises(ModelError, match="is a folder"):
        EmotionClassifier.load(tmp_path)
    onnx = tmp_path / "model.onnx"
    onnx.write_bytes(b"\x08\x07")
    with pytest.raises(ModelError, match=f"unknown model type {onnx}: "
                                         "expected a .tflite, .keras or .json file"):
        EmotionClassifier.load(onnx)


@pytest.mark.parametrize("one_thread_ms, cores, threads", [
    (0.5, 2, 1),     # fast int8 arithmetic: a second thread would only crowd the detector
    (5.0, 2, 2),     # AVX2 alone: the network is most of the frame, two threads share it
    (5.0, 1, 1),     # no second core to give it
])
def test_auto_threads_gives_a_slow_network_a_second_thread(one_thread_ms, cores, threads):
    assert classifier.auto_threads(one_thread_ms, cores) == threads


@pytest.mark.parametrize("measured, threads", [(0.4, 1), (6.0, 2)])
def test_threads_none_times_the_network_and_builds_it_for_what_it_measured(
        monkeypatch, faces, shipped, measured, threads):
    built = []
    real = classifier.open_interpreter

    def interpreter(*a):
        built.append(a[2])
        return real(*a)

    monkeypatch.setattr(classifier, "open_interpreter", interpreter)
    monkeypatch.setattr(classifier, "_time_one", lambda *a: measured)
    monkeypatch.setattr(classifier, "usable_cores", lambda: 2)
    auto = EmotionClassifier.load(threads=None)
    assert auto.threads == threads
    assert built == ([1, 2] if threads == 2 else [1])   # rebuilt only for two threads
    np.testing.assert_allclose(auto.predict(faces), shipped.predict(faces), atol=1e-5)


def test_the_pipeline_lets_the_classifier_choose_its_threads(monkeypatch, make_pipeline):
    monkeypatch.setattr(classifier, "_time_one", lambda *a: 6.0)
    monkeypatch.setattr(classifier, "usable_cores", lambda: 2)
    assert make_pipeline().classifier.threads == 2


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="no CPU affinity here")
def test_usable_cores_counts_the_cores_the_process_is_allowed():
    # as `taskset -c 0` or a container's cpuset would: one core, whatever the machine has
    code = ("import os; os.sched_setaffinity(0, {min(os.sched_getaffinity(0))}); "
            "from model.runtime.classifier import usable_cores; print(usable_cores())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=REPO)
    assert out.stdout.strip() == "1"


def test_the_measured_time_is_of_a_real_run(shipped):
    ms = classifier._time_one(shipped._backend._it)
    assert 0.01 < ms < 1000


def test_a_shipped_models_bare_name_reaches_it_from_any_folder(tmp_path, monkeypatch):
    from model.runtime.classifier import model_path

    monkeypatch.chdir(tmp_path)
    assert model_path(None) == DEFAULT_MODEL
    assert model_path("emotion_cnn_large.tflite") == LARGE_MODEL
    assert EmotionClassifier.load("emotion_cnn_large.tflite").path == LARGE_MODEL
    # a file of that name here, or a path with a folder, is taken as given
    (tmp_path / "sub").mkdir()
    assert model_path("sub/emotion_cnn_large.tflite") == Path("sub/emotion_cnn_large.tflite")
    (tmp_path / "emotion_cnn_large.tflite").write_bytes(LARGE_MODEL.read_bytes())
    assert model_path("emotion_cnn_large.tflite") == Path("emotion_cnn_large.tflite")
    with pytest.raises(ModelError, match="model file not found: nothing.tflite"):
        EmotionClassifier.load("nothing.tflite")
