"""The mean of several checkpoints' weights, exported as `train` exports its best one.

Writes OUT/mean.keras and OUT/emotion_cnn.tflite (int8 from the same sample of training
faces `train --seed SEED` draws, calibrated on PublicTest). Average checkpoints of one
run, or of runs that started from one another: the mean of two unrelated networks reads
nothing. Score the result with `main.py evaluate --split PublicTest`.

    python scripts/average_weights.py --out runs/soup_s31 --labels ferplus --seed 31 \\
        runs/student_s31/best.keras runs/student_s31/last.keras
"""
import argparse
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import model.runtime.atomic as atomic  # noqa: E402
from model.runtime.errors import UserError  # noqa: E402
from model.runtime.tensorflow_setup import native_stderr_to, quiet_tensorflow  # noqa: E402
from model.training.train_config import DEFAULT_DATA, LABEL_SOURCES, TrainConfig  # noqa: E402


def average(checkpoints, out, data, labels, seed) -> Path:
    from model.training.average import average_models
    from model.training.data import load_dataset
    from model.training.train import export_model, use_crowd

    cfg = TrainConfig(data=data, out=str(out), labels=labels, seed=seed)
    model = average_models([str(c) for c in checkpoints])   # refused before data loads
    dataset = use_crowd(cfg, load_dataset(cfg.data))
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with atomic.atomic_path(out / "mean.keras", suffix=".keras") as tmp:
        model.save(tmp)
    return export_model(model, out, cfg, dataset)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("checkpoints", nargs="+", help=".keras checkpoints of one layout")
    ap.add_argument("--out", required=True, help="folder for mean.keras and the .tflite")
    ap.add_argument("--data", default=DEFAULT_DATA)
    ap.add_argument("--labels", default="fer2013", choices=LABEL_SOURCES)
    ap.add_argument("--seed", type=int, default=TrainConfig.seed,
                    help="draws the int8 sample of training faces, as train's --seed")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s")
    quiet_tensorflow()
    try:
        with native_stderr_to(None):     # TensorFlow's C++ chatter; our log lines stay
            path = average(args.checkpoints, args.out, args.data, args.labels, args.seed)
    except UserError as exc:
        sys.exit(f"error: {exc}")
    print(path)


if __name__ == "__main__":
    main()
