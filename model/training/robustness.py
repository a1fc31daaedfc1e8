"""What a camera does to a face, as fixed test-time perturbations of 48x48 crops.

`evaluate --robustness` scores a model on each perturbed copy of a test split and
reports the drop from its clean accuracy: a model that only knows clean FER-2013
crops loses many points on a dim webcam's noise. Every perturbation is applied
with a fixed seed, so two models (or two runs) see exactly the same faces.
"""

import cv2
import numpy as np

from model.runtime.emotions import INPUT_SIZE

SEED = 2013
SIZE = INPUT_SIZE


def warp(face, matrix):
    return cv2.warpAffine(face, matrix, (SIZE, SIZE), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REFLECT_101)


def _scaled(face, factor):
    m = cv2.getRotationMatrix2D((SIZE / 2 - 0.5, SIZE / 2 - 0.5), 0.0, factor)
    return warp(face, m)


def _tilt(face, rng):
    angle = 15.0 * rng.choice((-1.0, 1.0))
    return warp(face, cv2.getRotationMatrix2D((SIZE / 2 - 0.5, SIZE / 2 - 0.5), angle, 1.0))


def _shift(face, rng):
    angle = rng.uniform(0, 2 * np.pi)
    dx, dy = 0.1 * SIZE * np.cos(angle), 0.1 * SIZE * np.sin(angle)
    return warp(face, np.array([[1, 0, dx], [0, 1, dy]], np.float32))


def _levels(face, scale, offset):
    return np.clip(face.astype(np.float32) * scale + offset, 0, 255).astype(np.uint8)


def _low_contrast(face):
    f = face.astype(np.float32)
    return np.clip((f - f.mean()) * 0.5 + f.mean(), 0, 255).astype(np.uint8)


def _noise(face, rng):
    return np.clip(face + rng.normal(0.0, 8.0, face.shape), 0, 255).astype(np.uint8)


def _jpeg(face):
    ok, buf = cv2.imencode(".jpg", face, [cv2.IMWRITE_JPEG_QUALITY, 30])
    return cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE)


def _small(face):
    small = cv2.resize(face, (24, 24), interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (SIZE, SIZE), interpolation=cv2.INTER_LINEAR)


# name -> f(face uint8 (48, 48), rng) -> perturbed face; in the order they are reported
PERTURBATIONS = {
    "zoom in 15%": lambda f, r: _scaled(f, 1.15),
    "zoom out 15%": lambda f, r: _scaled(f, 1 / 1.15),
    "shift 10%": _shift,
    "tilt 15 deg": _tilt,
    "blur sigma 1": lambda f, r: cv2.GaussianBlur(f, (0, 0), 1.0),
    "dark": lambda f, r: _levels(f, 0.5, 0),
    "bright": lambda f, r: _levels(f, 0.5, 127.5),
    "low contrast": lambda f, r: _low_contrast(f),
    "noise sigma 8": _noise,
    "jpeg 30": lambda f, r: _jpeg(f),
    "24-pixel face": lambda f, r: _small(f),
}


def perturb(faces: np.ndarray, name: str, seed: int = SEED) -> np.ndarray:
    """uint8 (N, 48, 48) faces -> the same faces under perturbation `name`."""
    fn = PERTURBATIONS[name]
    rng = np.random.default_rng([seed, list(PERTURBATIONS).index(name)])
    return np.stack([fn(f, rng) for f in faces]) if len(faces) else faces.copy()


def robustness(predict_labels, faces, labels, seed: int = SEED) -> dict:
    """Accuracy clean and under each perturbation; `predict_labels(faces) -> classes`."""
    labels = np.asarray(labels)
    clean = float(np.mean(predict_labels(faces) == labels))
    rows = {}
    for name in PERTURBATIONS:
        acc = float(np.mean(predict_labels(perturb(faces, name, seed)) == labels))
        rows[name] = {"accuracy": acc, "drop_points": round(100 * (clean - acc), 2)}
    drops = [r["drop_points"] for r in rows.values()]
    worst = max(rows, key=lambda n: rows[n]["drop_points"])
    return {"seed": seed, "clean_accuracy": clean, "perturbations": rows,
            "mean_drop_points": round(float(np.mean(drops)), 2),
            "worst": {"name": worst, "drop_points": rows[worst]["drop_points"]}}


def table(result: dict) -> str:
    """The robustness result as a small plain-text table (for the console and the card)."""
    lines = [f"{'perturbation':<16} {'accuracy':>8} {'drop':>6}",
             f"{'clean':<16} {100 * result['clean_accuracy']:7.2f}% {'':>6}"]
    for name, r in result["perturbations"].items():
        lines.append(f"{name:<16} {100 * r['accuracy']:7.2f}% {-r['drop_points']:+6.2f}")
    lines.append(f"{'mean drop':<16} {'':>8} {-result['mean_drop_points']:+6.2f}")
    return "\n".join(lines)
