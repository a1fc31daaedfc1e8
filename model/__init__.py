"""Emotion classifier: data, network, training, evaluation and inference.

`EMOTIONS` is the one list of class names, in FER-2013 index order (it lives in
`model.runtime.emotions`); the project's modules import it from there, programs from here:

    from model import EMOTIONS, EmotionClassifier
    probs = EmotionClassifier().predict(faces)   # uint8 (N, 48, 48) -> (N, 7)
"""

from model.runtime.emotions import EMOTIONS, INPUT_SIZE, valence

__all__ = ["EMOTIONS", "INPUT_SIZE", "EmotionClassifier", "valence"]


def __getattr__(name):
    # loaded on first use: `import model` stays light (no OpenCV, no runtime)
    if name == "EmotionClassifier":
        from model.runtime.classifier import EmotionClassifier

        return EmotionClassifier
    raise AttributeError(f"module 'model' has no attribute {name!r}")
