"""Train the emotion CNN on a lent GPU machine: Keras on JAX or PyTorch, no TensorFlow there.

The GPU machine that some sessions are lent has JAX and PyTorch but no TensorFlow,
and TensorFlow's wheel is far over what may travel to it (64 MiB). So the work is
split in three steps:

- `pack` (here): the training faces with their targets (plain labels, and the
  distillation mix that `train --teacher` uses) and PublicTest, lzma-compressed
  into one file of a git-ignored folder that travels with `carry`;
- `run` (there; `model/gpu_train.sh` first `probe`s which backend computes on the
  GPU): `model.network`'s network trained for as many epochs as fit before a
  deadline (the cosine schedule is fixed after the warm-up, from the time an epoch
  took), keeping the weights that score best on PublicTest;
- `adopt` (here): those weights -> best.keras and the quantised .tflite that
  `train` writes, through the same export.

Augmentation: `model.augment`'s geometry and light layers, and the camera effects
(sharpness, blur, low resolution, noise, erasing) as keras.ops, because the
tf.data versions in `model.augment` cannot run inside a jitted JAX step. JPEG has
no JAX op and is left out. `run` works on the processor too, slowly.

    python -m model.gpu_train pack --teacher assets/emotion_cnn.tflite
    bash model/gpu_train.sh 480        # there, through the device tool
    python -m model.gpu_train adopt OUT/s11.weights.h5 --out runs/gpu_s11
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

from common.errors import DataError, UserError

log = logging.getLogger(__name__)

PACK = ".gpu/fer_pack.npz"  # git-ignored, travels with carry


def _squeeze(faces: np.ndarray) -> np.ndarray:
    return np.frombuffer(lzma.compress(np.ascontiguousarray(faces).tobytes(), preset=6), np.uint8)


def _unsqueeze(blob: np.ndarray, count: int) -> np.ndarray:
    return np.frombuffer(lzma.decompress(blob.tobytes()), np.uint8).reshape(count, 48, 48)


def pack(data: str, path: str = PACK, teacher: str | None = None, work: str = "runs/gpu",
         teacher_weight: float = 0.7, temperature: float = 2.0) -> Path:
    """Write the faces and targets that `run` trains on (here, where TensorFlow is)."""
    from common import atomic
    from model.data import load_dataset
    from model.train import TrainConfig, training_targets

    dataset = load_dataset(data, splits=("train", "val"))
    cfg = TrainConfig(data=data, out=work, teacher=teacher, teacher_weight=teacher_weight,
                      temperature=temperature)
    Path(work).mkdir(parents=True, exist_ok=True)  # the teacher's probabilities are cached there
    soft = training_targets(cfg, dataset, Path(work)) if teacher else None
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic.atomic_path(path, suffix=".npz") as tmp:
        np.savez(tmp, x_train=_squeeze(dataset["train"].x), y_train=dataset["train"].y,
                 x_val=_squeeze(dataset["val"].x), y_val=dataset["val"].y,
                 soft=soft if soft is not None else np.zeros((0, 7), np.float32),
                 about=json.dumps({"data": data, "teacher": teacher,
                                   "teacher_weight": teacher_weight,
                                   "temperature": temperature}))
    log.info("packed %s (%.1f MB)", path, path.stat().st_size / 1e6)
    return path


def load_pack(path):
    with np.load(path) as p:
        y_train, y_val = p["y_train"], p["y_val"]
        return (_unsqueeze(p["x_train"], len(y_train)), y_train, p["soft"],
                _unsqueeze(p["x_val"], len(y_val)), y_val, json.loads(str(p["about"])))


def camera_effects_layer(keras, cfg, seed: int):
    """`model.augment.camera_effects` as a Keras layer of keras.ops (static shapes for jit)."""
    ops = keras.ops

    def gaussian(sigma, radius=3):
        r = ops.arange(-radius, radius + 1, dtype="float32")
        k = ops.exp(-(r ** 2) / (2.0 * sigma ** 2))
        k = k / ops.sum(k)
        return ops.reshape(k[:, None] * k[None, :], (2 * radius + 1, 2 * radius + 1, 1, 1))

    def blur(x, sigma):
        padded = ops.pad(x, [[0, 0], [3, 3], [3, 3], [0, 0]], mode="reflect")
        return ops.conv(padded, gaussian(sigma), strides=1, padding="valid")

    class CameraEffects(keras.layers.Layer):
        def __init__(self):
            super().__init__(name="camera_effects")
            self.seeds = keras.random.SeedGenerator(seed)

        def uniform(self, shape, low=0.0, high=1.0):
            return keras.random.uniform(shape, low, high, seed=self.seeds)

        def chosen(self, n, p):
            return ops.cast(self.uniform((n, 1, 1, 1)) < p, "float32")

        def call(self, x, training=False):
            if not training:
                return x
            n = ops.shape(x)[0]
            if cfg.sharpness_p > 0:  # x + a (x - blur(x)): a < 0 softens, a > 0 sharpens
                amount = self.uniform((n, 1, 1, 1), -0.8, 1.2)
                x = x + amount * self.chosen(n, cfg.sharpness_p) * (x - blur(x, 1.0))
            if cfg.blur_p > 0:
                sigma = self.uniform((), 0.6, 1.4)
                x = x + self.chosen(n, cfg.blur_p) * (blur(x, sigma) - x)
            if cfg.lowres_p > 0:  # a size per face among 16..36 px (jit needs static sizes);
                # antialiased bilinear for the "area" downscale, which JAX lacks
                sizes = (16, 20, 24, 28, 32, 36)
                ups = ops.stack([ops.image.resize(ops.image.resize(x, (s, s), antialias=True),
                                                  (48, 48), interpolation="bilinear")
                                 for s in sizes], axis=0)
                which = keras.random.randint((n,), 0, len(sizes), seed=self.seeds)
                pick = ops.one_hot(which, len(sizes))
                up = ops.sum(ops.transpose(pick)[:, :, None, None, None] * ups, axis=0)
                x = x + self.chosen(n, cfg.lowres_p) * (up - x)
            x = ops.clip(x, 0.0, 1.0)
            if cfg.noise > 0:
                sigma = self.uniform((n, 1, 1, 1), 0.0, cfg.noise / 255.0)
                noise = keras.random.normal(ops.shape(x), seed=self.seeds)
                x = ops.clip(x + self.chosen(n, cfg.noise_p) * sigma * noise, 0.0, 1.0)
            if cfg.erase_p > 0:
                x = self.erase(x, n, cfg.erase_p)
            return x

        def erase(self, x, n, p):
            """One rectangle of 10-30% of the face per chosen face, filled with noise."""
            area = self.uniform((n,), 0.1, 0.3) * 48.0 * 48.0
            aspect = ops.exp(self.uniform((n,), -0.8, 0.8))
            eh = ops.clip(ops.floor(ops.sqrt(area * aspect)), 1, 48)
            ew = ops.clip(ops.floor(ops.sqrt(area / aspect)), 1, 48)
            top = ops.floor(self.uniform((n,)) * (48 - eh + 1))
            left = ops.floor(self.uniform((n,)) * (48 - ew + 1))
            rows = ops.arange(48, dtype="float32")[None, :, None]
            cols = ops.arange(48, dtype="float32")[None, None, :]
            inside = ((rows >= top[:, None, None]) & (rows < (top + eh)[:, None, None])
                      & (cols >= left[:, None, None]) & (cols < (left + ew)[:, None, None]))
            mask = ops.cast(inside, "float32")[..., None] * self.chosen(n, p)
            return x * (1.0 - mask) + mask * self.uniform(ops.shape(x))

    return CameraEffects()


def training_model(keras, seed: int, targets: str = "soft", ema: float = 0.99,
                   lr: float = 1e-3, label_smoothing: float = 0.1, stages=None):
    """(network, the network behind the augmentation layers, compiled)."""
    from model.augment import AugmentConfig, geometry_and_light
    from model.network import build_model

    cfg = AugmentConfig()
    net = build_model() if stages is None else build_model(stages=stages)
    face = keras.Input((48, 48, 1), name="face")
    moved = keras.ops.clip(geometry_and_light(cfg, seed)(face), 0.0, 1.0)
    model = keras.Model(face, net(camera_effects_layer(keras, cfg, seed + 10)(moved)))
    model.compile(optimizer=keras.optimizers.AdamW(lr, weight_decay=0.01, use_ema=ema > 0,
                                                   ema_momentum=ema or 0.99),
                  loss=keras.losses.CategoricalCrossentropy(
                      label_smoothing=0.0 if targets == "soft" else label_smoothing),
                  metrics=["accuracy"])
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


def run(pack_path: str, out: str, seed: int, until: float, targets: str = "soft",
        ema: float = 0.99, lr: float = 1e-3, batch_size: int = 64, warmup: int = 2,
        max_epochs: int = 300, label_smoothing: float = 0.1, limit: int = 0,
        stages=None) -> dict:
    """Train one network until the deadline `until` (a time.time() value); return its history."""
    import keras

    from common import atomic
    from model.preprocess import to_network_input
    from model.schedule import warmup_cosine

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
            atomic.write_json(out / f"s{seed}.history.json", history)
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


def adopt(weights: str, out: str, data: str, seed: int = 1) -> Path:
    """GPU-trained weights -> OUT/best.keras and OUT/emotion_cnn.tflite, as `train` writes them."""
    from model.data import load_dataset
    from model.network import build_model
    from model.train import BEST, TrainConfig, finish

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    history_file = Path(str(weights).replace(".weights.h5", ".history.json"))
    history = json.loads(history_file.read_text()) if history_file.is_file() else {}
    stages = history.get("stages")
    net = build_model() if stages is None else build_model(stages=[tuple(s) for s in stages])
    net.load_weights(weights)
    net.save(out / BEST)
    curves = {k: history[k] for k in ("loss", "accuracy", "val_accuracy") if k in history}
    return finish(out, TrainConfig(data=data, out=str(out), seed=seed),
                  load_dataset(data, splits=("train",)), curves)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m model.gpu_train", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("pack", help="pack faces and targets for the GPU machine (here)")
    p.add_argument("--data", default="../shared/datasets/fer2013")
    p.add_argument("--out", default=PACK)
    p.add_argument("--teacher", help="ensemble/model whose probabilities are distilled")
    p.add_argument("--work", default="runs/gpu", help="where the teacher's answers are cached")
    r = sub.add_parser("run", help="train on the GPU machine until a deadline")
    r.add_argument("--pack", default=PACK)
    r.add_argument("--out", required=True)
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
    a.add_argument("--data", default="../shared/datasets/fer2013")
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
