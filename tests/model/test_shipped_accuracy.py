"""The shipped model keeps the PublicTest accuracy its model card states: against the FER+
crowd's majority, on the faces that have one (FER-2013 and its votes file needed)."""

import re

import numpy as np
import pytest

from model.runtime.classifier import (
    ACCURATE_MODEL,
    DEFAULT_MODEL,
    LARGE_MODEL,
    EmotionClassifier,
    load_classifier,
)
from model.runtime.model_card import card_results
from model.training.data import load_dataset
from model.training.evaluate import predict_labels
from model.training.votes import VOTES_FILE, load_votes, majority_split
from tests.conftest import REPO

CARD = REPO / "assets" / "MODEL_CARD.md"
TOLERANCE_POINTS = 0.3


ACCURATE_ROW = "`--accurate`: five crops"  # the card's results row of --accurate
LARGE_ROW = "`emotion_cnn_large.tflite`, 3.7 times"  # and of the large network


def card_publictest_accuracy(marker: str | None = None) -> float:
    """The PublicTest accuracy of the shipped model as the card gives it (the figure
    Help > About shows), or the first percentage in the one row marked `marker`."""
    if marker is None:
        return float(card_results(DEFAULT_MODEL.name)["PublicTest"].rstrip("%"))
    rows = [line for line in CARD.read_text(encoding="utf-8").splitlines()
            if line.startswith("|") and marker in line]
    assert len(rows) == 1, f"the card's results table must have one row with {marker!r}"
    return float(re.search(r"(\d+\.\d+)%", rows[0]).group(1))


@pytest.fixture
def publictest(fer_root):
    """FER-2013's PublicTest faces where most of the crowd agree, with their majority."""
    val = load_dataset(fer_root, splits=("val",))["val"]
    if len(val) != 3589:
        pytest.skip(f"{fer_root} holds {len(val)} PublicTest faces, not FER-2013's 3,589")
    if not (fer_root / VOTES_FILE).is_file():
        pytest.skip(f"the FER+ votes ({VOTES_FILE}) are not in {fer_root}")
    return majority_split(val, load_votes(fer_root / VOTES_FILE))


def test_the_card_names_the_shipped_model_file():
    assert f"`{DEFAULT_MODEL.name}`" in CARD.read_text(encoding="utf-8").splitlines()[0]


def test_the_shipped_model_keeps_its_cards_publictest_accuracy(publictest):
    faces, labels = publictest.x, publictest.y
    accuracy = 100 * float(np.mean(predict_labels(EmotionClassifier.load(), faces) == labels))
    assert accuracy == pytest.approx(card_publictest_accuracy(), abs=TOLERANCE_POINTS)


def test_the_accurate_ensemble_keeps_its_cards_publictest_accuracy(publictest):
    assert f"`{ACCURATE_MODEL.name}`" in CARD.read_text(encoding="utf-8")
    accurate = load_classifier(accurate=True)
    labels = predict_labels(accurate, publictest.x)
    accuracy = 100 * float(np.mean(labels == publictest.y))
    assert accuracy == pytest.approx(card_publictest_accuracy(ACCURATE_ROW), abs=TOLERANCE_POINTS)


def test_the_large_network_keeps_its_cards_publictest_accuracy(publictest):
    labels = predict_labels(EmotionClassifier.load(LARGE_MODEL), publictest.x)
    accuracy = 100 * float(np.mean(labels == publictest.y))
    assert accuracy == pytest.approx(card_publictest_accuracy(LARGE_ROW), abs=TOLERANCE_POINTS)
