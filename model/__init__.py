"""Emotion classifier: data, network, training, evaluation and inference.

`EMOTIONS` is the one list of class names, in FER-2013 index order; every other
part of the project imports it from here.
"""

EMOTIONS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
INPUT_SIZE = 48

__all__ = ["EMOTIONS", "INPUT_SIZE"]
