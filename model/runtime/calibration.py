"""Probabilities that mean what they say, kept inside the model file.

A network distilled from softened targets hedges: the shipped one said 42% on
average where it is right 69% of the time. One temperature T, fitted on PublicTest
by the negative log-likelihood, turns every reading p into softmax(log p / T).
It is applied to the final reading (face and mirror image averaged, an ensemble's
networks averaged), so the order of the classes, and with it every label, stays
exactly as it was.

The file carries it, so that the file alone gives calibrated probabilities: a
.tflite in a metadata entry (`METADATA_NAME`, JSON), an ensemble .json in its
"calibration" field. A model without one runs as it is.

Beside the temperature the file keeps the model's mean (calibrated)
log-probabilities on FER-2013's neutral faces of PublicTest: the reference a
person's own neutral face is compared with (app.core.neutral_offset).
"""

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict

import numpy as np
import numpy.typing as npt

import model.runtime.atomic as atomic
from model.runtime.emotions import EMOTIONS

METADATA_NAME = "emotion_detector.calibration"
FLOOR = 1e-6          # probabilities are clipped here before a log (int8 outputs give 0)
BINS = 10             # equal-width confidence bins of the ECE and the reliability diagram


class _CalibrationJSON(TypedDict):
    temperature: float
    fitted_on: str


class CalibrationJSON(_CalibrationJSON, total=False):
    """A model file's "calibration" object, as written."""

    neutral_reference: list[float]


class ReliabilityBin(TypedDict):
    """One confidence bin; confidence and accuracy are None where it holds no face."""

    low: float
    high: float
    faces: int
    confidence: float | None
    accuracy: float | None


class CalibrationMetrics(TypedDict):
    ece: float
    nll: float
    mean_confidence: float
    bins: list[ReliabilityBin]


@dataclass(frozen=True)
class Calibration:
    """How a model's probabilities are corrected; the default changes nothing."""

    temperature: float = 1.0
    neutral_reference: tuple[float, ...] | None = None   # mean log-probabilities on neutral faces
    fitted_on: str = ""

    def apply(self, probs: np.ndarray) -> np.ndarray:
        """(N, 7) probabilities -> the same, sharpened or softened by the temperature."""
        if self.temperature == 1.0:
            return probs
        return softmax(log_probs(probs) / self.temperature)

    def to_json(self) -> CalibrationJSON:
        out: CalibrationJSON = {"temperature": round(float(self.temperature), 5),
                                "fitted_on": self.fitted_on}
        if self.neutral_reference is not None:
            out["neutral_reference"] = [round(float(v), 5) for v in self.neutral_reference]
        return out

    @classmethod
    def from_json(cls, spec: Mapping[str, Any], where: str | Path) -> "Calibration":
        """From a file's "calibration" object (parsed JSON, so of any shape); a
        ValueError naming `where` if malformed."""
        try:
            t = float(spec["temperature"])
            listed = spec.get("neutral_reference")
            ref = None if listed is None else tuple(float(v) for v in listed)
        except (TypeError, KeyError, ValueError) as exc:
            raise ValueError(f"{where}: calibration is malformed ({exc!r})") from exc
        if not (math.isfinite(t) and t > 0) or (ref is not None and len(ref) != len(EMOTIONS)):
            raise ValueError(f"{where}: calibration is malformed (temperature {t}, "
                             f"reference of {len(ref or ())} values)")
        return cls(t, ref, str(spec.get("fitted_on", "")))


NONE = Calibration()


def log_probs(probs: npt.ArrayLike) -> np.ndarray:
    return np.log(np.clip(np.asarray(probs, np.float64), FLOOR, None))


def softmax(logits: npt.ArrayLike) -> np.ndarray:
    z = np.asarray(logits, np.float64)
    z = np.exp(z - z.max(axis=-1, keepdims=True))
    out: np.ndarray = (z / z.sum(axis=-1, keepdims=True)).astype(np.float32)
    return out


# ---------------------------------------------------------------- measuring

def nll(probs: npt.ArrayLike, labels: npt.ArrayLike) -> float:
    """Mean negative log-likelihood of the true labels."""
    labels = np.asarray(labels)
    p = np.asarray(probs)[np.arange(len(labels)), labels]
    return float(-np.mean(np.log(np.clip(p, FLOOR, None))))


def reliability(probs: npt.ArrayLike, labels: npt.ArrayLike,
                bins: int = BINS) -> list[ReliabilityBin]:
    """Per equal-width confidence bin: faces, mean confidence, accuracy."""
    conf = np.asarray(probs).max(axis=1)
    right = np.asarray(probs).argmax(axis=1) == np.asarray(labels)
    which = np.minimum((conf * bins).astype(int), bins - 1)
    return [{"low": i / bins, "high": (i + 1) / bins, "faces": int((which == i).sum()),
             "confidence": float(conf[which == i].mean()) if (which == i).any() else None,
             "accuracy": float(right[which == i].mean()) if (which == i).any() else None}
            for i in range(bins)]


def calibration_metrics(probs: npt.ArrayLike, labels: npt.ArrayLike,
                        bins: int = BINS) -> CalibrationMetrics:
    """ECE (equal-width bins), negative log-likelihood and mean confidence."""
    rows = reliability(probs, labels, bins)
    n = len(np.asarray(labels))
    # a bin with faces has both figures (an empty one has None for both)
    ece = sum(r["faces"] / n * abs(acc - conf) for r in rows
              if (acc := r["accuracy"]) is not None and (conf := r["confidence"]) is not None)
    return {"ece": round(float(ece), 4), "nll": round(nll(probs, labels), 4),
            "mean_confidence": round(float(np.asarray(probs).max(axis=1).mean()), 4),
            "bins": rows}


def fit_temperature(probs: npt.ArrayLike, labels: npt.ArrayLike, low: float = 0.05,
                    high: float = 20.0) -> float:
    """The temperature with the least NLL: golden-section search on log T (the NLL
    of a temperature-scaled reading is unimodal in it; no SciPy needed for one number)."""
    logp = log_probs(probs)
    truth = np.asarray(labels)

    def loss(log_t: float) -> float:
        return nll(softmax(logp / math.exp(log_t)), truth)

    a, b, g = math.log(low), math.log(high), (math.sqrt(5) - 1) / 2
    for _ in range(60):
        c, d = b - g * (b - a), a + g * (b - a)
        if loss(c) < loss(d):
            b = d
        else:
            a = c
    return math.exp((a + b) / 2)


def fit(probs: np.ndarray, labels: npt.ArrayLike, fitted_on: str) -> Calibration:
    """A temperature from (N, 7) raw probabilities, and the neutral reference: the
    mean calibrated log-probabilities of the faces labelled neutral."""
    t = fit_temperature(probs, labels)
    neutral = np.asarray(labels) == EMOTIONS.index("neutral")
    ref = None
    if neutral.any():
        ref = tuple(float(v) for v in log_probs(Calibration(t).apply(probs[neutral])).mean(0))
    return Calibration(t, ref, fitted_on)


# ------------------------------------------------------------ in the model file

def tflite_calibration(data: bytes, path: str | Path) -> Calibration:
    """The calibration in a .tflite model's bytes (read from `path`), or NONE."""
    from ai_edge_litert import schema_py_generated as schema

    model = schema.Model.GetRootAs(data, 0)
    for i in range(model.MetadataLength()):
        entry = model.Metadata(i)
        if entry.Name() and entry.Name().decode() == METADATA_NAME:
            raw = model.Buffers(entry.Buffer()).DataAsNumpy()
            try:
                spec = json.loads(bytes(raw).decode("utf-8"))
            except (TypeError, ValueError) as exc:
                raise ValueError(f"{path}: calibration is not JSON ({exc})") from exc
            return Calibration.from_json(spec, path)
    return NONE


def write_tflite(path: Path, calibration: Calibration) -> None:
    """Put `calibration` into the .tflite file's metadata (replacing any), atomically."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    model = schema.ModelT.InitFromPackedBuf(bytearray(Path(path).read_bytes()), 0)
    buffer = schema.BufferT()
    buffer.data = np.frombuffer(json.dumps(calibration.to_json()).encode("utf-8"), np.uint8)
    model.metadata = model.metadata or []
    ours = [m for m in model.metadata if _text(m.name) == METADATA_NAME]
    if ours:                                  # calibrated before: reuse its buffer
        model.buffers[ours[0].buffer] = buffer
    else:
        model.buffers.append(buffer)
        entry = schema.MetadataT()
        entry.name, entry.buffer = METADATA_NAME, len(model.buffers) - 1
        model.metadata.append(entry)
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    atomic.write_bytes(path, bytes(builder.Output()))


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def write_ensemble(path: Path, calibration: Calibration) -> None:
    """Set the "calibration" field of an ensemble .json file, atomically."""
    spec = json.loads(Path(path).read_text(encoding="utf-8"))
    spec["calibration"] = calibration.to_json()
    atomic.write_text(path, json.dumps(spec, indent=1) + "\n")
