"""A person's own neutral face, measured from photos or a clip (`process --baseline`).

Some faces at rest look sad, angry or tired to any model, and every reading of that
person leans that way. The largest face of each picture (or frame) of the person's
neutral face is read; how the mean of those readings differs from the model's mean
on neutral faces in general (kept in the model file, model.runtime.calibration) is the lean
the pipeline then takes out of every reading of that person. What it is given is
checked first (app.core.neutral_check): a smile, a face that talks or two faces are
refused with the reason, unless forced.
"""

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from app.core.face_reader import Classifier
from app.core.neutral_check import NotNeutral, Seen, checked_offset
from app.core.neutral_offset import person_offset
from app.io.sources import SourceError, open_source
from app.nouns import Box
from model.runtime.errors import ModelError, UserError
from model.runtime.preprocess import to_gray

if TYPE_CHECKING:   # the pipeline is the caller's, built before
    from app.core.pipeline import EmotionPipeline

log = logging.getLogger(__name__)


def neutral_reference(classifier: Classifier) -> np.ndarray:
    """The model's mean reading of neutral faces; a clear error for a model without one."""
    reference = getattr(classifier.calibration, "neutral_reference", None)
    if reference is None:
        raise ModelError(f"{classifier.path} carries no neutral reference, which a person's "
                         "calibration needs: add one with `calibrate --model "
                         f"{classifier.path}`")
    return np.asarray(reference)


def measure_baseline(path: str | Path, pipe: "EmotionPipeline", crops: bool = False,
                     force: bool = False) -> tuple[np.ndarray, dict[str, Any]]:
    """(offset, what was measured) from a neutral photo, folder of photos or clip.

    `pipe`: an EmotionPipeline; it is reset and used unsmoothed, one picture at a
    time. `crops`: the pictures are face crops, each read whole (`process --crops`).
    `force`: use it even when it does not look like a face at rest (logged)."""
    path = Path(path).expanduser()
    reference = neutral_reference(pipe.classifier)
    readings, seen, sequence = _largest_face_readings(path, pipe, crops)
    if not readings:
        raise UserError(f"--baseline {path}: no face found in it; give a photo, folder of "
                        "photos or clip of the person's neutral face")
    try:
        offset = checked_offset(readings, reference, sequence, seen)
    except NotNeutral as exc:
        if not force:
            raise NotNeutral(f"--baseline {path}: {exc} (--force-baseline uses it anyway)") \
                from None
        log.warning("--baseline %s: %s; used anyway (--force-baseline)", path, exc)
        offset = person_offset(np.asarray(readings), reference)
    info = {"source": str(path), "faces": len(readings),
            "offset": [round(float(v), 4) for v in offset]}
    log.info("baseline from %s: %d face(s) read", path, len(readings))
    return offset, info


def _largest_face_readings(path: Path, pipe: "EmotionPipeline",
                           crops: bool) -> tuple[list[tuple[float, ...]], Seen, bool]:
    """The model's reading of the largest face in every picture of `path`, what else
    was seen (app.core.neutral_check.Seen), and whether the pictures are a clip."""
    smoothing = pipe.smoothing
    pipe.smoothing = False               # every view of every face, each picture alone
    readings, brightness, second_faces, sequence = [], [], 0, False
    try:
        with open_source(path) as source:
            sequence = not source.still
            while (frame := source.read()) is not None:
                pipe.reset()
                faces = pipe.classify_whole(frame) if crops else pipe.process(frame, 0.0)
                if faces:
                    faces = sorted(faces, key=lambda d: d.box[2] * d.box[3], reverse=True)
                    readings.append(faces[0].raw_probabilities)
                    brightness.append(_face_brightness(frame, faces[0].box))
                    second_faces += len(faces) > 1 and \
                        _area(faces[1].box) >= SAME_SIZE * _area(faces[0].box)
    except SourceError as exc:
        raise UserError(f"--baseline: {exc}") from exc
    finally:
        pipe.smoothing = smoothing
        pipe.reset()
    return readings, Seen(tuple(brightness), int(second_faces)), sequence


# a second face at least this share of the largest one's area could be the person
SAME_SIZE = 0.6


def _area(box: Box) -> float:
    return float(box[2] * box[3])


def _face_brightness(frame: np.ndarray, box: Sequence[float]) -> float:
    x, y, w, h = (int(v) for v in box)
    gray = to_gray(frame)
    patch = gray[max(0, y):y + h, max(0, x):x + w]
    return float(patch.mean()) if patch.size else float(gray.mean())
