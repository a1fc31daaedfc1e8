"""The seven FER-2013 classes, in its index order, their colours, and what is read
off them.

A leaf module (it imports nothing of the project), so every layer can import it
without a cycle; `model` re-exports it.
"""

from collections.abc import Iterable

EMOTIONS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
INPUT_SIZE = 48   # the network's face: INPUT_SIZE x INPUT_SIZE grayscale
# one colour per emotion (BGR, as OpenCV draws): the boxes, every chart, the window
EMOTION_COLORS = {
    "angry": (40, 40, 220),      # red
    "disgust": (40, 140, 40),    # green
    "fear": (160, 60, 140),      # purple
    "happy": (0, 200, 255),      # yellow-orange
    "sad": (200, 120, 30),       # blue
    "surprise": (230, 200, 0),   # cyan
    "neutral": (170, 170, 170),  # grey
}

_HAPPY = EMOTIONS.index("happy")
_NEGATIVE = tuple(EMOTIONS.index(e) for e in ("sad", "angry", "fear", "disgust"))


def valence(probabilities: Iterable[float]) -> float:
    """How pleasant a face looks, from -1 to 1, as emotion-research tools define it:
    the happy probability minus the largest of sad, angry, fear and disgust."""
    p = [float(v) for v in probabilities]
    return p[_HAPPY] - max(p[i] for i in _NEGATIVE)
