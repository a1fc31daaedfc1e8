"""A person's own neutral face, measured from photos or a clip (`process --baseline`).

Some faces at rest look sad, angry or tired to any model, and every reading of that
person leans that way. The largest face of each picture (or frame) of the person's
neutral face is read; how the mean of those readings differs from the model's mean
on neutral faces in general (kept in the model file, model.runtime.calibration) is the lean
the pipeline then takes out of every reading of that person.
"""

import logging
from pathlib import Path

import numpy as np

from app.io.sources import SourceError, open_source
from model.runtime.errors import ModelError, UserError
from model.runtime.calibration import person_offset

log = logging.getLogger(__name__)


def neutral_reference(classifier) -> np.ndarray:
    """The model's mean reading of neutral faces; a clear error for a model without one."""
    reference = getattr(classifier.calibration, "neutral_reference", None)
    if reference is None:
        raise ModelError(f"{classifier.path} carries no neutral reference, which a person's "
                         "calibration needs: add one with `calibrate --model "
                         f"{classifier.path}`")
    return np.asarray(reference)


def measure_baseline(path, pipe, crops: bool = False) -> tuple[np.ndarray, dict]:
    """(offset, what was measured) from a neutral photo, folder of photos or clip.

    `pipe`: an EmotionPipeline; it is reset and used unsmoothed, one picture at a
    time. `crops`: the pictures are face crops, each read whole (`process --crops`)."""
    path = Path(path).expanduser()
    reference = neutral_reference(pipe.classifier)
    readings = _largest_face_readings(path, pipe, crops)
    if not readings:
        raise UserError(f"--baseline {path}: no face found in it; give a photo, folder of "
                        "photos or clip of the person's neutral face")
    offset = person_offset(np.asarray(readings), reference)
    info = {"source": str(path), "faces": len(readings),
            "offset": [round(float(v), 4) for v in offset]}
    log.info("baseline from %s: %d face(s) read", path, len(readings))
    return offset, info


def _largest_face_readings(path: Path, pipe, crops: bool) -> list:
    """The model's reading of the largest face in every picture of `path`."""
    smoothing = pipe.smoothing
    pipe.smoothing = False               # every view of every face, each picture alone
    readings = []
    try:
        with open_source(path) as source:
            while (frame := source.read()) is not None:
                pipe.reset()
                faces = pipe.classify_whole(frame) if crops else pipe.process(frame, 0.0)
                if faces:
                    largest = max(faces, key=lambda d: d.box[2] * d.box[3])
                    readings.append(largest.raw_probabilities)
    except SourceError as exc:
        raise UserError(f"--baseline: {exc}") from exc
    finally:
        pipe.smoothing = smoothing
        pipe.reset()
    return readings
