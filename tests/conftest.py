"""Pytest-wide settings and shared fixtures (helpers: append yours below, keep others').

The tests mirror the packages they test: a file goes in the folder of the package
whose code it is about, whatever it needs to get there (a test of `process`'s
outputs reads files that app.io writes, but it is about the command):

    tests/core/      app.core: the pipeline, finding and reading faces, tracking,
                     a person's neutral, playback
    tests/io/        app.io: sources, feeds, snapshots, the result files, cameras
    tests/gui/       app.gui: the window (offscreen, or a real one on Xvfb), its
                     engine, timeline, markers and settings
    tests/report/    app.report
    tests/commands/  app.commands and the command line (app.cli, app.parser)
    tests/model/     model: the classifier, calibration, training, data, evaluation
    tests/           the whole project: the import layers, lint and types,
                     packaging, the bundle, the README's example, the crash log,
                     scripts/

Each folder is a package (an empty __init__.py), so module names stay unique.
Helpers shared between folders stay here and in tests/fakes.py (a fake camera)
and tests/gui_support.py (a window and its waits).
"""

import time
from pathlib import Path
from typing import Any

import pytest

from model.training.train_config import DEFAULT_DATA

REPO = Path(__file__).resolve().parents[1]
# FER-2013 (Kaggle folder layout) beside the checkout; never copied into the project.
FER_ROOT = (REPO / DEFAULT_DATA).resolve()


def wait_until(condition, what: str = "the condition", *, timeout: float = 30.0,
               every: float = 0.01, process=None, log=None):
    """Poll `condition()` every `every` s until it returns something true; return that.

    Fails the test after `timeout` s, saying what it waited for, or as soon as
    `process` (a Popen, when given) exits first; `log()`, when given, is the text
    (an app's output) added to either failure. For waits outside Qt's event loop:
    threads, sockets, subprocesses (GUI tests use qtbot.waitUntil).
    """
    deadline = time.monotonic() + timeout
    while True:
        found = condition()
        if found:
            return found
        exited = process is not None and process.poll() is not None
        if exited or time.monotonic() > deadline:
            why = (f"the app exited ({process.returncode}) before {what}" if exited
                   else f"timed out after {timeout} s waiting for {what}")
            pytest.fail(why + (f":\n{log()}" if log is not None else ""))
        time.sleep(every)


def fer_available() -> bool:
    return (FER_ROOT / "train").is_dir() and (FER_ROOT / "test").is_dir()


@pytest.fixture(scope="session")
def fer_root() -> Path:
    """The FER-2013 folder; skips the test, saying why, when it is not there."""
    if not fer_available():
        pytest.skip(f"FER-2013 not found at {FER_ROOT} (Kaggle folder layout expected)")
    return FER_ROOT


# ---- tiny FER-2013 data sets and a tiny trained model (model tests) ----------

# A network small enough to train for an epoch in seconds: (filters, convs) per stage.
TINY_STAGES = ((4, 1), (8, 1))
# Faces per class in each split of the tiny data sets; the splits differ in size
# so that a test can tell which one was read.
TINY_COUNTS = {"train": 4, "val": 3, "test": 2}
TINY_PREFIX = {"train": "Training", "val": "PublicTest", "test": "PrivateTest"}


def tiny_faces(split: str, per_class: int | None = None, seed: int = 0):
    """uint8 faces (N, 48, 48) and labels, class-major; each class its own pattern."""
    import numpy as np

    from model import EMOTIONS

    per_class = per_class or TINY_COUNTS[split]
    rng = np.random.default_rng([seed, list(TINY_COUNTS).index(split)])
    yy, xx = np.mgrid[0:48, 0:48]
    faces, labels = [], []
    for label in range(len(EMOTIONS)):
        angle = np.pi * label / len(EMOTIONS)
        base = 127 + 100 * np.sin((xx * np.cos(angle) + yy * np.sin(angle)) / 4)
        for _ in range(per_class):
            face = base + rng.normal(0, 20, base.shape)
            faces.append(np.clip(face, 0, 255).astype(np.uint8))
            labels.append(label)
    return np.stack(faces), np.array(labels, np.int64)


def write_tiny_folder(root, suffix: str = ".png", seed: int = 0):
    """The Kaggle folder layout (train/<emotion>/, test/<emotion>/); returns root.

    PNG by default, so that the faces read back are exactly `tiny_faces`' (the
    Kaggle files are JPEG, which the loader reads as well).
    """
    import cv2

    from model import EMOTIONS

    root = Path(root)
    for split, part in (("train", "train"), ("val", "test"), ("test", "test")):
        faces, labels = tiny_faces(split, seed=seed)
        for i, (face, label) in enumerate(zip(faces, labels)):
            folder = root / part / EMOTIONS[label]
            folder.mkdir(parents=True, exist_ok=True)
            assert cv2.imwrite(str(folder / f"{TINY_PREFIX[split]}_{i:04d}{suffix}"), face)
    return root


def write_tiny_csv(path, seed: int = 0, extra_rows=()):
    """The original fer2013.csv (emotion,pixels,Usage) with the same faces; returns path."""
    path = Path(path)
    lines = ["emotion,pixels,Usage"]
    for split in TINY_COUNTS:
        faces, labels = tiny_faces(split, seed=seed)
        for face, label in zip(faces, labels):
            lines.append(f"{label},{' '.join(map(str, face.ravel()))},{TINY_PREFIX[split]}")
    lines.extend(extra_rows)
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def tiny_folder(tmp_path) -> Path:
    """A tiny data set in the Kaggle folder layout (7 classes x 4/3/2 faces)."""
    return write_tiny_folder(tmp_path / "fer")


@pytest.fixture
def tiny_csv(tmp_path) -> Path:
    """The same tiny data set as a fer2013.csv file."""
    return write_tiny_csv(tmp_path / "fer2013.csv")


def tiny_config(data, out, **overrides):
    """A TrainConfig for the tiny network: seconds per epoch instead of minutes."""
    from model.training.train import TrainConfig

    settings: dict[str, Any] = dict(data=str(data), out=str(out), epochs=1, batch_size=8,
                                    stages=[list(s) for s in TINY_STAGES], quantize=False)
    settings.update(overrides)
    return TrainConfig(**settings)


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """One epoch of the tiny network on the tiny folder data set, int8 export included.

    Returns (config, out folder); the model files in it are shared, do not modify.
    """
    pytest.importorskip("tensorflow", reason="training needs TensorFlow (pip install '.[test]')")
    from model.training.train import train

    root = tmp_path_factory.mktemp("tiny_run")
    cfg = tiny_config(write_tiny_folder(root / "fer"), root / "run", quantize=True)
    train(cfg)
    return cfg, Path(cfg.out)


# ---- the Qt application for the GUI tests (tests/gui/) ---------------------------

@pytest.fixture(scope="session")
def qapp_args(pytestconfig):
    """pytest-qt's QApplication arguments; set up Qt before it is created.

    GUI tests draw offscreen unless QT_QPA_PLATFORM says otherwise (run them on
    Xvfb with QT_QPA_PLATFORM=xcb DISPLAY=:N). Qt loads PyQt5's own plugins, not
    opencv-python's, as the app does; test mode keeps Qt away from the user's
    folders and settings.
    """
    import os

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from app.gui.main import use_pyqt_plugins

    use_pyqt_plugins()
    from PyQt5.QtCore import QStandardPaths

    QStandardPaths.setTestModeEnabled(True)
    return [pytestconfig.getini("qt_qapp_name")]


def video_frames(path) -> int:
    """How many frames OpenCV decodes from a video file (what a player would show)."""
    import cv2

    cap = cv2.VideoCapture(str(path))
    n = 0
    while cap.read()[0]:
        n += 1
    cap.release()
    return n


# ---- generated footage and what the outputs hold ------------------------------

def video_with_sound(path, codec, frames=45, fps=30):
    """A clip with a drawn face and a 440 Hz tone, written with PyAV."""
    import av
    import numpy as np

    from app.io import synthetic

    faces, spec = [synthetic.drawn_face(160)], synthetic.ClipSpec(frames=frames, fps=fps)
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264" if path.suffix == ".mp4" else "mjpeg", rate=fps)
        video.width, video.height = 640, 480
        video.pix_fmt = "yuv420p" if path.suffix == ".mp4" else "yuvj420p"
        audio = out.add_stream(codec, rate=44100)
        for frame, _ in synthetic.clip_frames(faces, spec):
            out.mux(video.encode(av.VideoFrame.from_ndarray(frame, format="bgr24")))
        out.mux(video.encode(None))
        t = np.arange(int(44100 * frames / fps)) / 44100
        tone = 0.3 * np.sin(2 * np.pi * 440 * t)[None]
        samples = av.AudioFrame.from_ndarray(tone.astype(np.float32), format="fltp",
                                             layout="mono") if codec == "aac" else \
            av.AudioFrame.from_ndarray((tone * 32767).astype(np.int16), format="s16",
                                       layout="mono")
        samples.sample_rate = 44100
        out.mux(audio.encode(samples))
        out.mux(audio.encode(None))
    return path


CLIP_FRAMES = 45


def write_face_clip(path, frames: int = CLIP_FRAMES, **spec) -> list:
    """A real MJPG .avi of one drawn face moving over a room (app.io.synthetic, 640x480,
    30 fps unless `spec` says otherwise); the truth of every frame."""
    from app.io import synthetic

    return synthetic.write_clip(path, [synthetic.drawn_face(160)],
                                synthetic.ClipSpec(frames=frames, **spec))


@pytest.fixture(scope="module")
def clip_truths(tmp_path_factory):
    """(the module's face clip, its truths): 45 frames, made once per test module."""
    path = tmp_path_factory.mktemp("in") / "face clip.avi"
    return path, write_face_clip(path)


@pytest.fixture(scope="module")
def clip(clip_truths) -> Path:
    """The module's 45-frame face clip (see clip_truths)."""
    return clip_truths[0]


def read_csv(path) -> list[dict]:
    """The rows of a CSV the app wrote (detections.csv, markers.csv), as dicts."""
    import csv

    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def read_image(path, flags: int = 1):
    """cv2.imread (flags 1: BGR), failing the test at once when the file cannot be read
    (instead of handing on None)."""
    import cv2

    image = cv2.imread(str(path), flags)
    assert image is not None, f"cannot read {path}"
    return image


@pytest.fixture
def make_pipeline():
    """Builds EmotionPipelines (same arguments); each is closed, its reading thread
    ended, when the test ends."""
    from app.core.pipeline import EmotionPipeline

    made = []

    def make(*args, **kwargs):
        made.append(EmotionPipeline(*args, **kwargs))
        return made[-1]

    yield make
    for pipe in made:
        pipe.close()
