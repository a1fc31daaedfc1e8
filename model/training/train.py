"""Train the emotion CNN on FER-2013 with checkpoints every epoch and --resume.

Recipe: on-the-fly augmentation (flip, tilt, zoom, shift, brightness and contrast,
then camera effects: noise, blur/sharpen, JPEG, low resolution, erasing; see
`model.training.augment`), label smoothing, AdamW with a warm-up then cosine learning-rate decay.
The model with the best PublicTest accuracy is kept; PrivateTest is never looked
at here (that is `evaluate`'s job).

Distillation (`teacher`): the targets become a mix of the one-hot label and a
teacher model's softened probabilities (an ensemble with multi-crop averaging,
computed once per run on the clean training faces and cached), so that one
network learns what several know. `init` starts from a trained network's weights.
Options measured in the model card's ablation table: mixup (`augment` mixup=a)
and an exponential moving average of the weights (`ema`).
"""

import json
import logging
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from model.runtime.tensorflow_setup import import_tensorflow

tf, keras = import_tensorflow()  # the one-line error when the train extra is missing
# Keras' callback base (Keras has no type information: Any to mypy, by this name)
Callback: Any = keras.callbacks.Callback

import model.runtime.atomic as atomic  # noqa: E402
from model.runtime.emotions import EMOTIONS, INPUT_SIZE  # noqa: E402
from model.runtime.errors import DataError  # noqa: E402
from model.runtime.preprocess import to_network_input  # noqa: E402
from model.training.augment import AugmentConfig, augmentation, jpeg_tf_only, mixup  # noqa: E402
from model.training.curves import save_curves  # noqa: E402
from model.training.data import load_dataset  # noqa: E402
from model.training.network import compile_for_training, has_blocks  # noqa: E402
from model.training.schedule import warmup_cosine  # noqa: E402
from model.training.train_config import TEACHER_ON, TrainConfig  # noqa: E402,F401 (TrainConfig re-exported)

log = logging.getLogger(__name__)

STATE = "state.json"
LAST = "last.keras"
BEST = "best.keras"
TFLITE = "emotion_cnn.tflite"
TEACHER_CACHE = "teacher.npz"




def learning_rate(cfg: TrainConfig, epoch: int) -> float:
    """Linear warm-up, then cosine decay to 1% of the base rate at the last epoch.

    Per epoch through LearningRateScheduler, not keras' CosineDecay: `--resume
    --epochs N` stretches the schedule to the new length, which a schedule built
    into the saved optimizer cannot do."""
    return warmup_cosine(cfg.lr, epoch, cfg.epochs, cfg.warmup_epochs)


def augment_config(cfg: TrainConfig) -> AugmentConfig:
    try:
        return AugmentConfig(**(cfg.augment or {}))
    except TypeError as exc:
        raise DataError(f"unknown augmentation setting in {cfg.augment}: {exc}") from exc


def _onehot(y):
    return np.eye(len(EMOTIONS), dtype=np.float32)[y]


def soften(probs: np.ndarray, temperature: float) -> np.ndarray:
    """Probabilities at a temperature: p^(1/T), renormalised (T > 1 flattens them)."""
    logp = np.log(np.clip(probs, 1e-8, 1.0)) / temperature
    p = np.exp(logp - logp.max(axis=1, keepdims=True))
    return (p / p.sum(axis=1, keepdims=True)).astype(np.float32)


def teacher_probabilities(cfg: TrainConfig, faces: np.ndarray, out: Path) -> np.ndarray:
    """The teacher's probabilities for the training faces, cached in `out` for --resume
    (keyed by the teacher's path and the number of faces: delete teacher.npz after
    changing the teacher file in place)."""
    from model.runtime.classifier import EmotionClassifier

    cache = out / TEACHER_CACHE
    if cache.is_file():
        with np.load(cache) as saved:
            if str(saved["teacher"]) == cfg.teacher and saved["probs"].shape[0] == len(faces):
                return saved["probs"]
    from tqdm import tqdm

    teacher = EmotionClassifier.load(cfg.teacher, five_crops=True)
    step = 256
    probs = np.concatenate([teacher.predict(faces[i:i + step]) for i in tqdm(
        range(0, len(faces), step), desc="teacher", unit="batch", file=sys.stderr,
        mininterval=0.5 if sys.stderr.isatty() else 30.0)])
    with atomic.atomic_path(cache, suffix=".npz") as tmp:
        np.savez_compressed(tmp, teacher=str(cfg.teacher), probs=probs)   # (set: it was loaded)
    return probs


def training_targets(cfg: TrainConfig, data, out: Path) -> np.ndarray:
    """One-hot labels (or the crowd's votes, see `use_crowd`), mixed with a teacher's
    softened probabilities when it reads the clean faces (rows sum to 1)."""
    onehot = _onehot(data["train"].y)
    base = onehot if data.targets is None else \
        (1 - cfg.label_weight) * data.targets + cfg.label_weight * onehot
    if teacher_reads(cfg) != "clean":
        return base
    probs = teacher_probabilities(cfg, data["train"].x, out)
    agree = float(np.mean(probs.argmax(1) == base.argmax(1)))
    log.info("teacher agrees with %.1f%% of the training targets' top emotion", 100 * agree)
    w = cfg.teacher_weight
    return w * soften(probs, cfg.temperature) + (1 - w) * base


def use_crowd(cfg: TrainConfig, data):
    """With labels="ferplus": training faces get the crowd's vote distribution as
    targets (`data.targets`), PublicTest is scored against it (`data.val_targets`) and
    calibrated on its majority faces (`data.calibration`)."""
    if cfg.labels == "fer2013":
        return data
    if cfg.labels != "ferplus":
        raise DataError(f"unknown labels {cfg.labels!r}: fer2013 or ferplus")
    from model.training import votes as crowd

    votes = crowd.load_votes(crowd.find_votes(cfg.data, cfg.votes))
    data.splits["train"], data.targets = crowd.crowd_targets(data["train"], votes, cfg.unvoted)
    data.splits["val"], data.val_targets = crowd.crowd_targets(data["val"], votes)
    data.calibration = crowd.majority_split(data["val"], votes)
    return data


def teacher_reads(cfg: TrainConfig) -> str | None:
    """What the teacher reads, one of TEACHER_ON; None without a teacher."""
    if not cfg.teacher:
        return None
    if cfg.teacher_on not in TEACHER_ON:
        raise DataError(f"unknown teacher_on {cfg.teacher_on!r}: {' or '.join(TEACHER_ON)}")
    return cfg.teacher_on


def teacher_on_batches(cfg: TrainConfig):
    """(x, y) -> (x, the targets mixed with the teacher's softened reading of x): the
    teacher reads each augmented batch as the student sees it (Beyer et al. 2022: a
    consistent teacher), face and mirror averaged as the app reads them."""
    from model.runtime.classifier import EmotionClassifier

    teacher = EmotionClassifier.load(cfg.teacher, threads=1)
    w = cfg.teacher_weight

    def read(x):  # the int8 teacher reads uint8 faces, as from a camera
        faces = np.round(np.clip(x[..., 0], 0.0, 1.0) * 255.0).astype(np.uint8)
        return soften(teacher.predict(faces), cfg.temperature)

    def mix(x, y):
        probs = tf.numpy_function(read, [x], tf.float32, stateful=False)
        probs.set_shape(y.shape)
        return x, w * probs + (1 - w) * y

    return mix


def make_datasets(data, cfg: TrainConfig, targets=None):
    """Augmented training batches and clean PublicTest batches; `targets` default one-hot."""
    acfg = augment_config(cfg)
    augment = augmentation(acfg, cfg.seed)  # Keras layers, as in the GPU script's model
    teacher = teacher_on_batches(cfg) if teacher_reads(cfg) == "augmented" else None

    x_train = to_network_input(data["train"].x)
    targets = _onehot(data["train"].y) if targets is None else targets
    train = (tf.data.Dataset.from_tensor_slices((x_train, targets))
             .shuffle(len(x_train), seed=cfg.seed, reshuffle_each_iteration=True)
             .map(lambda x, y: (jpeg_tf_only(x, acfg), y),
                  num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
             .batch(cfg.batch_size)
             .map(lambda x, y: (augment(x, training=True), y),
                  num_parallel_calls=tf.data.AUTOTUNE, deterministic=True))
    if teacher is not None:   # one batch at a time: the teacher's interpreter is not shared
        train = train.map(teacher, num_parallel_calls=1, deterministic=True)
    if acfg.mixup > 0:
        train = train.map(lambda x, y: mixup(x, y, acfg.mixup),
                          num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    train = train.prefetch(tf.data.AUTOTUNE)
    val_targets = _onehot(data["val"].y) if data.val_targets is None else data.val_targets
    val = (tf.data.Dataset.from_tensor_slices((to_network_input(data["val"].x), val_targets))
           .batch(256).prefetch(tf.data.AUTOTUNE))
    return train, val


def compile_model(model, cfg: TrainConfig):
    soft = cfg.teacher or cfg.labels == "ferplus"  # soft targets need no smoothing
    compile_for_training(model, cfg.lr, cfg.weight_decay, cfg.ema,
                         0.0 if soft else cfg.label_smoothing)


def train(cfg: TrainConfig, resume: bool = False) -> Path:
    """Run (or continue) training; return the path of the exported .tflite model."""

    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    state = _load_state(out) if resume else None
    if resume and state is None:
        log.warning("nothing to resume in %s: starting a new run", out)
    if state:
        cfg = TrainConfig(**{**state["config"], "data": cfg.data, "out": cfg.out,
                             "epochs": cfg.epochs})
    keras.utils.set_random_seed(cfg.seed)
    tf.config.experimental.enable_op_determinism()

    data = use_crowd(cfg, load_dataset(cfg.data))
    train_ds, val_ds = make_datasets(data, cfg, training_targets(cfg, data, out))

    if state:
        model = keras.models.load_model(out / LAST)
        start, history, best = state["epoch"], state["history"], state["best_val_accuracy"]
        log.info("resuming %s at epoch %d of %d", out, start + 1, cfg.epochs)
    else:
        model = _initial_model(cfg, data["train"].x)
        compile_model(model, cfg)
        start, history, best = 0, {}, 0.0
        log.info("new run in %s: %d parameters, %d epochs", out, model.count_params(), cfg.epochs)

    checkpoint = _Checkpoint(out, cfg, history, best)
    if start < cfg.epochs:
        # verbose=0: the progress bar is ours (on stderr, inside the epoch too), so
        # that stdout carries only the result (the exported model's path).
        try:
            model.fit(
                train_ds, validation_data=val_ds, epochs=cfg.epochs, initial_epoch=start,
                verbose=0, shuffle=False,  # the tf.data pipeline shuffles
                # the bar first: it is cleared before the checkpoint logs the epoch
                callbacks=[EpochProgress(cfg.epochs), keras.callbacks.LearningRateScheduler(
                    lambda epoch: learning_rate(cfg, epoch)),
                    # before the checkpoint: it then scores and saves the averaged weights
                    *([keras.callbacks.SwapEMAWeights(swap_on_epoch=True)] if cfg.ema else []),
                    checkpoint],
            )
        except KeyboardInterrupt:
            log.warning("stopped after epoch %d; continue with --resume", checkpoint.epoch)
            raise
    return finish(out, cfg, data, checkpoint.history)


def _initial_model(cfg: TrainConfig, train_faces):
    if cfg.init:
        from model.training.warm_start import rechannel, slim, space_to_depth, stage_filters, widen

        model = _init_network(cfg.init, train_faces, cfg.seed)
        stride = model.get_layer("conv1_1").strides[0]
        try:
            if cfg.widen != 1.0:
                model = widen(model, cfg.widen, cfg.seed)   # keeps the stride
            if cfg.slim != 1.0 or cfg.stem_stride not in (None, stride):
                model = slim(model, cfg.slim, cfg.stem_stride or stride)
            if cfg.channels:
                model = rechannel(model, stage_filters(model, cfg.channels), cfg.seed)
            if cfg.space_to_depth and not has_blocks(model):
                model = space_to_depth(model)
        except (ValueError, KeyError) as exc:
            raise DataError(f"cannot reshape {cfg.init}: not this project's network "
                            f"({exc})") from exc
        return model
    if cfg.widen != 1.0 or cfg.slim != 1.0 or cfg.channels:
        raise DataError("--widen, --slim and --channels need --init: they reshape a trained "
                        "network")
    from model.training.network import STAGES, build_model

    try:
        return build_model(stages=STAGES if cfg.stages is None else
                           [tuple(stage) for stage in cfg.stages],
                           stem_stride=cfg.stem_stride or 1, space_to_depth=cfg.space_to_depth)
    except ValueError as exc:
        raise DataError(str(exc)) from exc


def _init_network(path: str, train_faces, seed: int):
    """The --init network: a .keras checkpoint, or rebuilt from a .tflite."""
    if path.endswith(".tflite"):
        from model.training.warm_start import keras_from_tflite

        rng = np.random.default_rng(seed)
        sample = rng.choice(len(train_faces), min(len(train_faces), 2048), replace=False)
        model = keras_from_tflite(path, train_faces[np.sort(sample)])
    else:
        try:
            model = keras.models.load_model(path, compile=False)
        except Exception as exc:  # keras raises many types for a bad file
            raise DataError(f"cannot start from {path}: {str(exc).splitlines()[0]}") from exc
    shapes = (tuple(model.input_shape[1:]), tuple(model.output_shape[1:]))
    if shapes != ((INPUT_SIZE, INPUT_SIZE, 1), (len(EMOTIONS),)):
        raise DataError(f"cannot start from {path}: it maps {shapes[0]} to "
                        f"{shapes[1]}, not a 48x48 face to {len(EMOTIONS)} emotions")
    return model


def finish(out: Path, cfg: TrainConfig, data, history) -> Path:
    """Export the best model and write the history and training curves."""
    path = export_model(keras.models.load_model(out / BEST), out, cfg, data)
    atomic.write_json(out / "history.json", history)
    save_curves(history, out / "curves.png", f"{out.name}: accuracy and loss per epoch")
    log.info("best PublicTest accuracy %.4f; model %s", max(history.get("val_accuracy", [0])), path)
    return path


def export_model(model, out: Path, cfg: TrainConfig, data) -> Path:
    """Write `model` as out/emotion_cnn.tflite: int8 (`cfg.quantize`) from a sample of
    training faces drawn with `cfg.seed`, then calibrated on PublicTest."""
    from model.training.export import export_tflite

    rng = np.random.default_rng(cfg.seed)
    calib = data["train"].x[rng.choice(len(data["train"]), 500, replace=False)] \
        if cfg.quantize and len(data["train"]) >= 500 \
        else (data["train"].x if cfg.quantize else None)
    path = export_tflite(model, out / TFLITE, calib)
    # the percentages the app shows must mean what they say: a temperature fitted on
    # PublicTest goes into the exported file (model.runtime.calibration); labels do not change
    from model.training.evaluate import CROWD_CALIBRATION, calibrate_model

    crowd = data.calibration is not None
    calibration_faces = data.calibration if crowd else data["val"]
    if len(calibration_faces):
        calibrate_model(path, calibration_faces, *([CROWD_CALIBRATION] if crowd else []))
    else:
        log.warning("no PublicTest faces: %s is not calibrated", path)
    return path


def _load_state(out: Path):
    try:
        state = json.loads((out / STATE).read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot resume: {out / STATE} is unreadable ({exc})") from exc
    if not (out / LAST).is_file():
        raise DataError(f"cannot resume: {out / LAST} is missing")
    return state


class EpochProgress(Callback):
    """A tqdm bar per epoch on stderr: batches done, loss and accuracy so far, time left.

    Keras' own bar needs a terminal and prints on stdout, which carries the result."""

    def __init__(self, epochs: int):
        super().__init__()
        self.epochs = epochs
        self.bar: Any = None   # a tqdm bar (untyped), from the first epoch on

    def on_epoch_begin(self, epoch, logs=None):
        from tqdm import tqdm

        self.bar = tqdm(total=self.params.get("steps"), desc=f"epoch {epoch + 1}/{self.epochs}",
                        unit="batch", file=sys.stderr, leave=False, dynamic_ncols=True,
                        mininterval=0.5 if sys.stderr.isatty() else 30.0)

    def on_train_batch_end(self, batch, logs=None):
        self.bar.update(1)
        if logs:
            self.bar.set_postfix(loss=f"{logs.get('loss', 0):.3f}",
                                 accuracy=f"{logs.get('accuracy', 0):.3f}", refresh=False)

    def on_epoch_end(self, epoch, logs=None):
        self.bar.close()

    def on_train_end(self, logs=None):
        if self.bar is not None:
            self.bar.close()


class _Checkpoint(Callback):
    """Saves last/best models and the state file at the end of every epoch.

    Not BackupAndRestore + ModelCheckpoint + CSVLogger: --resume needs the epoch, the
    best score, the history and the TrainConfig in one state file written whole
    (atomically) with the models, which those three write separately and in place."""

    def __init__(self, out, cfg, history, best):
        super().__init__()
        self.out, self.cfg, self.history, self.best = out, cfg, history, best
        self.epoch = 0
        self._t0 = time.time()

    def on_epoch_begin(self, epoch, logs=None):
        self._t0 = time.time()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        logs = dict(logs or {})
        logs["seconds"] = time.time() - self._t0
        for k, v in logs.items():
            self.history.setdefault(k, []).append(float(v))
        val = float(logs.get("val_accuracy", 0.0))
        if val > self.best or epoch == 0:  # epoch 0: a best model even if val is 0
            self.best = max(val, self.best)
            with atomic.atomic_path(self.out / BEST, suffix=".keras") as tmp:
                self.model.save(tmp)
        with atomic.atomic_path(self.out / LAST, suffix=".keras") as tmp:
            self.model.save(tmp)
        self.epoch = epoch + 1
        atomic.write_json(self.out / STATE, {
            "epoch": self.epoch, "best_val_accuracy": self.best,
            "history": self.history, "config": asdict(self.cfg)})
        log.info("epoch %d/%d: val_accuracy %.4f (best %.4f), %.0f s",
                 self.epoch, self.cfg.epochs, val, self.best, logs["seconds"])
