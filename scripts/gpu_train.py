"""Train the emotion CNN on any GPU machine: Keras on JAX or PyTorch, no TensorFlow needed there.

A development script, not part of the installed app. `train` needs TensorFlow, which a
GPU machine may lack (or have without GPU support); Keras 3 trains the same network on
JAX or PyTorch. So the work is split between this checkout ("here", with TensorFlow)
and the GPU machine ("there"):

1. here, `pack`: the training faces with their targets (plain labels, and the
   distillation mix that `train --teacher` uses) and PublicTest, lzma-compressed into
   .gpu/fer_pack.npz (git-ignored);
2. copy the checkout to the GPU machine, .gpu/ included (`run` needs only model/,
   scripts/ and the pack). `run` needs JAX or PyTorch with GPU support, and
   Keras, h5py and OpenCV: where the machine lacks some, put their wheels for its
   Python into .whl/ (`pip download keras h5py opencv-python-headless -d .whl`, say),
   which `gpu_train.sh` installs first;
3. there, `bash scripts/gpu_train.sh SECONDS`: it `probe`s which Keras backend
   computes on the GPU, then `run`s networks side by side with the fastest, each for as
   many epochs as fit before the deadline (the cosine schedule is fixed after the
   warm-up, from the time an epoch took), keeping the weights that score best on
   PublicTest. They, their histories and log.txt go to $OUT_DIR (runs/gpu/out);
4. copy that folder back; here, `adopt`: the weights -> best.keras and the quantised
   .tflite that `train` writes, through the same export.

Augmentation: `model.training.augment.augmentation`, the Keras layers that `train` uses, inside
the model; JPEG, which has no Keras op, is left out (it is TensorFlow only).
`run` works on the processor too, slowly.

    python scripts/gpu_train.py pack --teacher assets/emotion_cnn.tflite
    bash scripts/gpu_train.sh 480                      # on the GPU machine
    python scripts/gpu_train.py adopt runs/gpu/out/s11.weights.h5 --out runs/gpu_s11
"""

import argparse
import json
import logging
import lzma
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the checkout's packages

from model.runtime.errors import DataError, UserError  # noqa: E402
from model.training.train_config import DEFAULT_DATA  # noqa: E402

log = logging.getLogger(__name__)

PACK = ".gpu/fer_pack.npz"  # git-ignored; copied to the GPU machine
OUT_DIR = os.environ.get("OUT_DIR", "runs/gpu/out")  # where `run` writes, there


def _compress_faces(faces: np.ndarray) -> np.ndarray:
    """uint8 faces (N, 48, 48) -> their bytes, lzma-compressed, as a uint8 array."""
    return np.frombuffer(lzma.compress(np.ascontiguousarray(faces).tobytes(), preset=6), np.uint8)


def _decompress_faces(blob: np.ndarray, count: int) -> np.ndarray:
    """`_compress_faces`' array -> the `count` faces (N, 48, 48) again."""
    return np.frombuffer(lzma.decompress(blob.tobytes()), np.uint8).reshape(count, 48, 48)


def pack(data: str, path: str | Path = PACK, teacher: str | None = None, work: str = "runs/gpu",
         teacher_weight: float = 0.7, temperature: float = 2.0) -> Path:
    """Write the faces and targets that `run` trains on (here, where TensorFlow is)."""
    import model.runtime.atomic as atomic
    from model.training.data import load_dataset
    from model.training.train import TrainConfig, training_targets

    dataset = load_dataset(data, splits=("train", "val"))
    cfg = TrainConfig(data=data, out=work, teacher=teacher, teacher_weight=teacher_weight,
                      temperature=temperature)
    Path(work).mkdir(parents=True, exist_ok=True)  # the teacher's probabilities are cached there
    soft = training_targets(cfg, dataset, Path(work)) if teacher else None
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic.atomic_path(path, suffix=".npz") as tmp:
        np.savez(tmp, x_train=_compress_faces(dataset["train"].x), y_train=dataset["train"].y,
                 x_val=_compress_faces(dataset["val"].x), y_val=dataset["val"].y,
                 soft=soft if soft is not None else np.zeros((0, 7), np.float32),
                 about=json.dumps({"data": data, "teacher": teacher,
                                   "teacher_weight": teacher_weight,
                                   "temperature": temperature}))
    log.info("packed %s (%.1f MB)", path, path.stat().st_size / 1e6)
    return path


def load_pack(path):
    with np.load(path) as p:
        y_train, y_val = p["y_train"], p["y_val"]
        return (_decompress_faces(p["x_train"], len(y_train)), y_train, p["soft"],
                _decompress_faces(p["x_val"], len(y_val)), y_val, json.loads(str(p["about"])))


def training_model(keras, seed: int, targets: str = "soft", ema: float = 0.99,
                   lr: float = 1e-3, label_smoothing: float = 0.1, stages=None):
    """(network, the network behind the augmentation layers, compiled)."""
    from model.training.augment import AugmentConfig, augmentation
    from model.training.network import build_model, compile_for_training

    net = build_model() if stages is None else build_model(stages=stages)
    face = keras.Input((48, 48, 1), name="face")
    model = keras.Model(face, net(augmentation(AugmentConfig(), seed)(face)))
    compile_for_training(model, lr, ema=ema,
                         label_smoothing=0.0 if targets == "soft" else label_smoothing)
    return net, model


def backend_device(keras) -> str:
    """Where this Keras backend computes: the GPU, or (silently, by default) the processor."""
    if keras.backend.backend() == "jax":
        import jax

        return f"jax {jax.__version__} {jax.devices()}"
    if keras.backend.backend() == "torch":
        import torch

        return f"torch {torch.__version__} cuda={torch.cuda.is_available()}"
    return keras.backend.backend()


def probe(batch_size: int = 64, steps: int = 40) -> float:
    """Milliseconds per training step of the real network on random faces (after a warm-up
    step that compiles): the GPU script picks its backend, and its epochs, by this."""
    import keras

    print(f"PROBE {keras.backend.backend()} device: {backend_device(keras)}", flush=True)
    _, model = training_model(keras, seed=1)
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (batch_size * steps, 48, 48, 1)).astype(np.float32)
    y = np.eye(7, dtype=np.float32)[rng.integers(0, 7, len(x))]
    model.fit(x[:batch_size], y[:batch_size], batch_size=batch_size, verbose=0)  # compiles
    t0 = time.perf_counter()
    model.fit(x, y, batch_size=batch_size, verbose=0)
    ms = 1000 * (time.perf_counter() - t0) / steps
    print(f"PROBE {keras.backend.backend()} ms_per_step {ms:.1f}", flush=True)
    return ms


def run(pack_path: str, out: str | Path, seed: int, until: float, targets: str = "soft",
        ema: float = 0.99, lr: float = 1e-3, batch_size: int = 64, warmup: int = 2,
        max_epochs: int = 300, label_smoothing: float = 0.1, limit: int = 0,
        stages=None) -> dict:
    """Train one network until the deadline `until` (a time.time() value); return its history."""
    import keras

    import model.runtime.atomic as atomic
    from model.runtime.preprocess import to_network_input
    from model.training.schedule import warmup_cosine

    keras.utils.set_random_seed(seed)
    print(f"seed {seed}: {backend_device(keras)}", flush=True)
    x, y, soft, xv, yv, about = load_pack(pack_path)
    if limit:  # a smoke test on a few faces of every class (the pack is in class order)
        pick, pick_val = (np.random.default_rng(seed).permutation(len(a))[:limit] for a in (y, yv))
        x, y, soft, xv, yv = x[pick], y[pick], soft[pick], xv[pick_val], yv[pick_val]
    onehot = np.eye(7, dtype=np.float32)
    target = soft if targets == "soft" else onehot[y]
    if len(target) != len(x):
        raise DataError(f"{pack_path} has no {targets} targets (pack it with --teacher)")
    net, model = training_model(keras, seed, targets, ema, lr, label_smoothing, stages)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    weights = out / f"s{seed}.weights.h5"
    history = {"seed": seed, "targets": targets, "ema": ema, "lr": lr, "batch_size": batch_size,
               "backend": keras.backend.backend(), "pack": about, "stages": stages,
               "epochs": max_epochs, "val_accuracy": [], "loss": [], "accuracy": [],
               "seconds": []}  # "epochs": the schedule's length, fixed after the warm-up

    class Deadline(keras.callbacks.Callback):
        """Fixes the schedule's length after the warm-up from one epoch's time; saves the best."""

        def on_epoch_begin(self, epoch, logs=None):
            self.started = time.time()

        def on_epoch_end(self, epoch, logs=None):
            now = time.time()
            took = now - self.started
            val = float(logs.get("val_accuracy", 0.0))
            for k in ("loss", "accuracy"):
                history[k].append(float(logs.get(k, 0.0)))
            history["val_accuracy"].append(val)
            history["seconds"].append(took)
            history["best_val_accuracy"] = max(history["val_accuracy"])
            if val >= history["best_val_accuracy"]:
                with atomic.atomic_path(weights, suffix=".weights.h5") as tmp:
                    net.save_weights(tmp)
            if epoch + 1 == warmup:
                history["epochs"] = min(max_epochs, epoch + 1 + max(int((until - now) / took), 1))
            # every epoch: a call cut off at its time limit still brings back a whole history
            atomic.write_json(weights.with_name(f"s{seed}.history.json"), history)
            stop = epoch + 1 >= history["epochs"] or now + took > until + 30
            if stop or epoch < warmup + 2 or (epoch + 1) % 10 == 0:  # the history has every epoch
                print(f"seed {seed} epoch {epoch + 1}/{history['epochs']}: val {val:.4f} "
                      f"(best {history['best_val_accuracy']:.4f}) loss {logs.get('loss', 0):.3f} "
                      f"{took:.1f} s", flush=True)
            self.model.stop_training = stop

    model.fit(to_network_input(x), target, batch_size=batch_size, epochs=max_epochs,
              validation_data=(to_network_input(xv), onehot[yv]), validation_batch_size=512,
              shuffle=True, verbose=0,
              callbacks=[keras.callbacks.LearningRateScheduler(
                  lambda epoch: warmup_cosine(lr, epoch, history["epochs"], warmup)),
                  *([keras.callbacks.SwapEMAWeights(swap_on_epoch=True)] if ema else []),
                  Deadline()])
    return history


def adopt(weights: str, out: str | Path, data: str, seed: int = 1) -> Path:
    """GPU-trained weights -> best.keras and emotion_cnn.tflite in `out`, as `train` writes them."""
    from model.training.data import load_dataset
    from model.training.network import build_model
    from model.training.train import BEST, TrainConfig, finish

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    history_file = Path(str(weights).replace(".weights.h5", ".history.json"))
    history = json.loads(history_file.read_text()) if history_file.is_file() else {}
    stages = history.get("stages")
    net = build_model() if stages is None else build_model(stages=[tuple(s) for s in stages])
    net.load_weights(weights)
    net.save(out / BEST)
    curves = {k: history[k] for k in ("loss", "accuracy", "val_accuracy") if k in history}
    # train: int8 calibration faces; val (PublicTest): the calibrated temperature
    return finish(out, TrainConfig(data=data, out=str(out), seed=seed),
                  load_dataset(data, splits=("train", "val")), curves)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python scripts/gpu_train.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("pack", help="pack faces and targets for the GPU machine (here)")
    p.add_argument("--data", default=DEFAULT_DATA)
    p.add_argument("--out", default=PACK)
    p.add_argument("--teacher", help="ensemble/model whose probabilities are distilled")
    p.add_argument("--work", default="runs/gpu", help="where the teacher's answers are cached")
    r = sub.add_parser("run", help="train on the GPU machine until a deadline")
    r.add_argument("--pack", default=PACK)
    r.add_argument("--out", default=OUT_DIR, help="default: $OUT_DIR, else runs/gpu/out")
    r.add_argument("--seed", type=int, default=1)
    r.add_argument("--until", type=float, required=True, help="deadline, seconds since 1970")
    r.add_argument("--targets", choices=("soft", "labels"), default="soft")
    r.add_argument("--ema", type=float, default=0.99)
    r.add_argument("--lr", type=float, default=1e-3)
    r.add_argument("--max-epochs", type=int, default=300)
    r.add_argument("--limit", type=int, default=0, help="use only this many faces (smoke test)")
    sub.add_parser("probe", help="time training steps with this KERAS_BACKEND (there)")
    a = sub.add_parser("adopt", help="turn GPU-trained weights into .keras and .tflite (here)")
    a.add_argument("weights")
    a.add_argument("--out", required=True)
    a.add_argument("--data", default=DEFAULT_DATA)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s")
    try:
        _dispatch(args)
    except (UserError, OSError, ValueError) as exc:  # a missing pack or weights file, say
        sys.exit(f"error: {exc}")


def _dispatch(args):
    if args.command == "pack":
        print(pack(args.data, args.out, args.teacher, args.work))
    elif args.command == "probe":
        probe()
    elif args.command == "run":
        history = run(args.pack, args.out, args.seed, args.until, args.targets, args.ema,
                      args.lr, max_epochs=args.max_epochs, limit=args.limit)
        print(f"seed {args.seed}: best PublicTest {history['best_val_accuracy']:.4f} "
              f"after {len(history['val_accuracy'])} epochs")
    else:
        print(adopt(args.weights, args.out, args.data))


if __name__ == "__main__":
    there = sys.argv[1:2] in (["run"], ["probe"])
    os.environ.setdefault("KERAS_BACKEND", "jax" if there else "tensorflow")
    main()
