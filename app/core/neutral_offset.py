"""A person's neutral baseline as numbers: how their resting face leans, and their
readings with that lean taken out. The model file keeps its mean reading of neutral
faces in general (model.runtime.calibration); a person's lean is measured against it."""

import numpy as np
import numpy.typing as npt

from model.runtime.calibration import log_probs, softmax


def person_offset(neutral_probs: npt.ArrayLike, reference: npt.ArrayLike) -> np.ndarray:
    """How a person's resting face leans, in log-probabilities: the mean of their
    neutral readings minus the model's mean on neutral faces in general."""
    mean: np.ndarray = log_probs(neutral_probs).mean(axis=0)
    return mean - np.asarray(reference, np.float64)


def corrected(probs: npt.ArrayLike, offset: npt.ArrayLike) -> np.ndarray:
    """Readings with a person's lean taken out (the offset subtracted before the softmax)."""
    return softmax(log_probs(probs) - np.asarray(offset, np.float64))
