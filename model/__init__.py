"""Emotion classifier: data, network, training, evaluation and inference.

`EMOTIONS` is the one list of class names, in FER-2013 index order (it lives in
`model.emotions`); every other part of the project imports it from there or here.
"""

from model.emotions import EMOTIONS, INPUT_SIZE, valence

__all__ = ["EMOTIONS", "INPUT_SIZE", "valence"]
