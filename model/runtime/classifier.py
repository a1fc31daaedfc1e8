"""EmotionClassifier: crops in, probabilities out, with the LiteRT runtime.

LiteRT (`ai-edge-litert`) imports in a fraction of a second, so the app starts
fast; TensorFlow is only imported to read a `.keras` checkpoint. Each face is
classified together with its mirror image and the two results averaged
(test-time flip), which is worth about a point of accuracy.

A model can also be a `.json` file that lists several networks (an ensemble,
`{"ensemble": ["a.tflite", "b.tflite"]}`, paths relative to the file): their
probabilities are averaged. Networks trained from different seeds make different
mistakes, so the average beats each one; the large network was distilled from such
an ensemble and beat the best three-network one on PublicTest at a third of the cost,
and the default network from it at a fifth of its time (assets/MODEL_CARD.md).
"""

import json
import logging
import os
import time
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import cv2
import numpy as np

from model.runtime.calibration import NONE, Calibration, tflite_calibration
from model.runtime.emotions import EMOTIONS, INPUT_SIZE
from model.runtime.errors import ModelError
from model.runtime.preprocess import to_network_input

if TYPE_CHECKING:   # LiteRT itself is imported when a .tflite file is loaded
    from ai_edge_litert.interpreter import Interpreter

log = logging.getLogger(__name__)

def _assets() -> Path:
    """The shipped model's folder: the package resource `model.assets` (a wheel installs
    it there; an editable install maps it to the checkout's assets/), else, run from a
    clone that was never installed, the checkout's assets/."""
    try:
        return Path(str(resources.files("model.assets")))
    except ModuleNotFoundError:
        return Path(__file__).resolve().parents[2] / "assets"


ASSETS = _assets()
DEFAULT_MODEL = ASSETS / "emotion_cnn.tflite"  # one distilled network, see assets/MODEL_CARD.md
# 3.7 times the default's multiply-adds, a little more accurate (`--model` its name)
LARGE_MODEL = ASSETS / "emotion_cnn_large.tflite"
# `--accurate` without --model: the large network on five crops, calibrated for them
ACCURATE_MODEL = ASSETS / "emotion_accurate.json"
EXPECTED_INPUT = (INPUT_SIZE, INPUT_SIZE, 1)
THREADS = 2   # each network's, unless asked otherwise (`load`)


class Backend(Protocol):
    """Runs network input (N,48,48,1) through a model file's network(s): (N,7)."""

    def run(self, x: np.ndarray, network: int | None = None) -> np.ndarray: ...


class EmotionClassifier:
    """Classify batches of 48x48 grayscale face crops into EMOTIONS.

    `five_crops` (`--accurate`) also averages five 44-pixel crops (centre and corners,
    resized back to 48), at six times the cost, a little more accurate
    (assets/MODEL_CARD.md).
    """

    def __init__(self, backend: Backend | None = None, path: Path | None = None,
                 flip: bool = True, five_crops: bool = False,
                 calibration: Calibration | None = None) -> None:
        """`EmotionClassifier()` is the shipped model: `backend` None loads the file at
        `path` (None: the shipped one) as `load` does by default. `calibration` None:
        the one the backend carries (its model file's), if any."""
        if backend is None:
            path = model_path(path)
            backend = _load_backend(path, THREADS)
        self._backend = backend
        self.path = path
        self.flip = flip
        # a .json model list may ask for the crops itself (the shipped --accurate file)
        self.five_crops: bool = five_crops or bool(getattr(backend, "five_crops", False))
        if calibration is None:
            calibration = getattr(backend, "calibration", NONE)
        # applied to every reading (model.runtime.calibration)
        self.calibration: Calibration = calibration

    @classmethod
    def load(cls, path: str | Path | None = None, flip: bool = True, threads: int | None = THREADS,
             five_crops: bool = False, calibrated: bool = True) -> "EmotionClassifier":
        """Load the shipped model, or the .tflite / .keras / .json (ensemble) file at `path`.

        `threads` None: one, or two where one is slow on this CPU (`auto_threads`).
        `calibrated` False: the network's own probabilities, without the calibration
        the file carries (for fitting one)."""
        path = model_path(path)
        loaded = cls(_load_backend(path, threads), path, flip, five_crops,
                     None if calibrated else NONE)
        log.debug("loaded model %s (temperature %.3f)", path, loaded.calibration.temperature)
        return loaded

    @property
    def threads(self) -> int | None:
        """The threads each network runs on (None: not a LiteRT model)."""
        backend = getattr(self._backend, "members", [self._backend])[0]
        threads: int | None = getattr(backend, "threads", None)
        return threads

    @property
    def networks(self) -> int:
        """How many networks answer: the ensemble's size, 1 for a single network."""
        return len(getattr(self._backend, "members", ())) or 1

    def predict(self, faces: np.ndarray, network: int | None = None,
                mirrored: bool | None = None) -> np.ndarray:
        """uint8 (N,48,48) or (48,48) crops -> float32 (N,7), rows sum to 1.

        A stream can take the views in turn (see app.core.face_reader.view_for): `network`
        asks only that one of an ensemble's networks (index modulo `networks`),
        `mirrored` True / False only the mirror image / only the face instead of
        their average."""
        x = to_network_input(faces)
        if len(x) == 0:
            return np.zeros((0, len(EMOTIONS)), np.float32)
        views = [x, *_corner_crops(x)] if self.five_crops else [x]
        if mirrored:
            views = [v[:, :, ::-1] for v in views]
        elif mirrored is None and self.flip:
            views += [v[:, :, ::-1] for v in views]
        out = self._backend.run(np.concatenate(views), network)
        probs = out.reshape(len(views), len(x), -1).mean(axis=0)
        probs = np.clip(probs.astype(np.float32), 0.0, None)
        probs = probs / np.maximum(probs.sum(axis=1, keepdims=True), 1e-12)
        return self.calibration.apply(probs)


def model_path(path: str | Path | None) -> Path:
    """The file a model argument names: None the shipped default; a bare file name that
    is not a file here but one of the shipped ones (emotion_cnn_large.tflite), that one,
    so that `--model` reaches them wherever the app is installed."""
    if not path:
        return DEFAULT_MODEL
    path = Path(path)
    shipped = ASSETS / path.name
    if path == Path(path.name) and not path.exists() and shipped.is_file():
        return shipped
    return path


def load_classifier(model: str | Path | None = None, accurate: bool = False,
                    **kwargs: Any) -> EmotionClassifier:
    """The classifier `process` and `evaluate` use; `accurate` is their --accurate.

    --accurate reads each face on five extra crops: the shipped large network through its own
    file (emotion_accurate.json, calibrated for those readings), or the user's model.
    Figures: assets/MODEL_CARD.md."""
    if accurate and model is None:
        return EmotionClassifier.load(ACCURATE_MODEL, **kwargs)
    return EmotionClassifier.load(model, five_crops=accurate, **kwargs)


CROP = 44  # side of the five extra views of `five_crops`


def _corner_crops(x: np.ndarray) -> list[np.ndarray]:
    """Centre and corner CROP-pixel crops of (N,48,48,1) faces, resized back to 48."""
    m, c = INPUT_SIZE - CROP, (INPUT_SIZE - CROP) // 2
    views = []
    for y0, x0 in ((c, c), (0, 0), (0, m), (m, 0), (m, m)):
        part = x[:, y0:y0 + CROP, x0:x0 + CROP, 0]
        views.append(np.stack([cv2.resize(f, (INPUT_SIZE, INPUT_SIZE),
                                          interpolation=cv2.INTER_LINEAR)
                               for f in part])[..., None])
    return views


MODEL_TYPES = (".tflite", ".keras", ".json")
NETWORK_TYPES = (".tflite", ".keras")  # what an ensemble may list: no nesting


def _load_backend(path: Path, threads: int | None,
                  listed_in: Path | None = None) -> Backend:
    """A network's backend, or an ensemble's; `listed_in`: the ensemble naming `path`."""
    types = NETWORK_TYPES if listed_in else MODEL_TYPES
    where = f" (listed in {listed_in})" if listed_in else ""
    if path.is_dir():
        raise ModelError(f"model path is a folder, not a model file: {path}{where}")
    if not path.is_file():
        raise ModelError(f"model file not found: {path}{where}")
    suffix = path.suffix.lower()
    if suffix not in types:
        raise ModelError(f"unknown model type {path}{where}: expected a "
                         f"{', '.join(types[:-1])} or {types[-1]} file")
    if suffix == ".keras":
        return _KerasBackend(path)
    if suffix == ".tflite":
        # an ensemble's own calibration applies to its average, not its networks'
        return _LiteBackend(path, threads, calibrated=listed_in is None)
    return _EnsembleBackend(path, threads)


def _check_shapes(path: Path, in_shape: Sequence[int | None],
                  out_shape: Sequence[int | None]) -> None:
    takes, gives = _dims(in_shape), _dims(out_shape)
    if takes != EXPECTED_INPUT or gives != (len(EMOTIONS),):
        raise ModelError(
            f"{path} is not an emotion model: it takes {takes} and gives {gives}, "
            f"expected {EXPECTED_INPUT} -> ({len(EMOTIONS)},)")


def _dims(shape: Sequence[int | None]) -> tuple[int | None, ...]:
    """A shape without its batch axis, as plain ints (None stays None)."""
    return tuple(None if d is None else int(d) for d in tuple(shape)[1:])


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


# `threads=None` (auto): a network slower than this on one thread gets a second one. CPUs
# with fast int8 arithmetic (VNNI instructions) run the large network in about 0.5 ms (the
# default 0.15), where a second thread beside the detector costs more than it brings; AVX2
# alone took ~5 ms for the large one, and two threads cut a frame by a third there
# (docs/measurements.md).
SLOW_ONE_THREAD_MS = 1.5


class _LiteBackend:
    def __init__(self, path: Path, threads: int | None, calibrated: bool = True) -> None:
        data = path.read_bytes()     # once: for the runtime and for the calibration
        self._it = open_interpreter(data, path, threads or 1)
        inp, out = self._it.get_input_details()[0], self._it.get_output_details()[0]
        _check_shapes(path, inp["shape"], out["shape"])
        self.threads: int | None = threads
        if threads is None:
            self.threads = auto_threads(_time_one(self._it), usable_cores())
            if self.threads > 1:
                self._it = open_interpreter(data, path, self.threads)
        try:
            self.calibration = tflite_calibration(data, path) if calibrated else NONE
        except ValueError as exc:
            raise ModelError(f"cannot read model {path}: {exc}") from exc
        self._in, self._out = inp["index"], out["index"]
        self._batch = 1

    def run(self, x: np.ndarray, network: int | None = None) -> np.ndarray:
        if len(x) != self._batch:
            self._it.resize_tensor_input(self._in, list(x.shape))
            self._it.allocate_tensors()
            self._batch = len(x)
        self._it.set_tensor(self._in, x)
        self._it.invoke()
        return np.array(self._it.get_tensor(self._out))


def open_interpreter(data: bytes, path: Path, threads: int) -> "Interpreter":
    from ai_edge_litert.interpreter import Interpreter

    try:
        interpreter = Interpreter(model_content=data, num_threads=threads)
        interpreter.allocate_tensors()
    except (ValueError, RuntimeError) as exc:
        raise ModelError(f"cannot read model {path}: not a valid .tflite file "
                         f"({_first_line(exc)})") from exc
    return interpreter


def _time_one(interpreter: "Interpreter", runs: int = 5) -> float:
    """The fastest of a few runs on one face, ms (after one to warm up): the least
    disturbed by whatever else the machine does while the app starts."""
    return min(pass_times(interpreter, runs + 1)[1:])


def pass_times(interpreter: "Interpreter", runs: int) -> list[float]:
    """The times of `runs` passes of one (blank) face, ms, input to output."""
    inp = interpreter.get_input_details()[0]
    out = interpreter.get_output_details()[0]
    x = np.zeros(inp["shape"], inp["dtype"])
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        interpreter.set_tensor(inp["index"], x)
        interpreter.invoke()
        interpreter.get_tensor(out["index"])
        times.append((time.perf_counter() - t) * 1000.0)
    return times


def usable_cores() -> int:
    """The cores this process may run on (a container or `taskset` may allow fewer
    than the machine has)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def auto_threads(one_thread_ms: float, cores: int) -> int:
    """The network's threads beside the detector: two where one is slow (and two cores)."""
    return 2 if one_thread_ms > SLOW_ONE_THREAD_MS and cores >= 2 else 1


class _KerasBackend:
    def __init__(self, path: Path) -> None:
        import zipfile

        # keras reports a file that is not a zip archive as "File not found"; and
        # checking first spares the TensorFlow import for a broken file
        if not zipfile.is_zipfile(path):
            raise ModelError(f"cannot read model {path}: not a valid .keras file "
                             "(not a zip archive; truncated or another format?)")
        from model.runtime.tensorflow_setup import import_tensorflow

        _, keras = import_tensorflow()  # a .keras file needs the train extra
        try:
            self._model = keras.models.load_model(path, compile=False)
        except Exception as exc:  # keras raises many types for a bad file
            raise ModelError(f"cannot read model {path}: not a valid .keras file "
                             f"({_first_line(exc)})") from exc
        if len(self._model.inputs) != 1 or len(self._model.outputs) != 1:
            raise ModelError(f"{path} is not an emotion model: it has "
                             f"{len(self._model.inputs)} inputs and {len(self._model.outputs)} "
                             "outputs, expected one of each")
        _check_shapes(path, self._model.inputs[0].shape, self._model.outputs[0].shape)

    def run(self, x: np.ndarray, network: int | None = None) -> np.ndarray:
        return np.asarray(self._model(x, training=False))


class _EnsembleBackend:
    """Averages the probabilities of the networks a .json model file lists."""

    def __init__(self, path: Path, threads: int | None) -> None:
        names, self.calibration, self.five_crops = read_model_list(path)
        self.members = [_load_backend(path.parent / name, threads, path) for name in names]

    def run(self, x: np.ndarray, network: int | None = None) -> np.ndarray:
        if network is not None:
            return self.members[network % len(self.members)].run(x)
        mean: np.ndarray = np.mean([member.run(x) for member in self.members], axis=0)
        return mean


def read_model_list(path: Path) -> tuple[list[str], Calibration, bool]:
    """The file names, calibration and `"five_crops"` (read each face on five crops too:
    one network's --accurate, calibrated for those readings) of a .json model list."""
    try:
        spec = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ModelError(f"cannot read model {path}: not a valid .json model list "
                         f"({_first_line(exc)})") from exc
    names = spec.get("ensemble") if isinstance(spec, dict) else None
    if not (isinstance(names, list) and names and all(isinstance(n, str) and n for n in names)):
        raise ModelError(f"cannot read model {path}: expected "
                         '{"ensemble": ["network.tflite", ...]} with at least one file name')
    try:
        calibration = Calibration.from_json(spec["calibration"], path) \
            if "calibration" in spec else NONE
    except ValueError as exc:
        raise ModelError(f"cannot read model {path}: {exc}") from exc
    five_crops = spec.get("five_crops", False)
    if not isinstance(five_crops, bool):
        raise ModelError(f'cannot read model {path}: "five_crops" must be true or false')
    return names, calibration, five_crops
