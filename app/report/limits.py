"""What the model can and cannot tell, for the report: its accuracy read from the
shipped model card (assets/MODEL_CARD.md), not repeated here, and what it was
trained on."""

from pathlib import Path

from model.runtime.classifier import ACCURATE_MODEL, DEFAULT_MODEL
from model.runtime.model_card import MODEL_CARD, card_results


def card_accuracy(model_name: str, card: Path = MODEL_CARD) -> str | None:
    """The PrivateTest accuracy (e.g. "69.27%") the card gives the model file
    `model_name`; None when the card or the row is not there."""
    return card_results(model_name, card).get("PrivateTest")


def model_paragraph(summary: dict) -> str:
    """One honest paragraph (plain text) on what the readings are and are not."""
    model = summary.get("model") or {}
    path = Path(model["path"]) if model.get("path") else None
    shipped = path is None or path.name in (DEFAULT_MODEL.name, ACCURATE_MODEL.name)
    accuracy = card_accuracy(path.name if path else DEFAULT_MODEL.name)
    if shipped and accuracy:
        wrong = 100 - float(accuracy.rstrip("%"))
        measured = (f"On FER-2013's test faces (PrivateTest) where most of ten people name "
                    f"the same emotion, it names theirs {accuracy} of the time "
                    f"(assets/MODEL_CARD.md): about {wrong:.0f}% of its readings of such "
                    "faces are wrong, and more where people disagree among themselves")
    else:
        measured = ("This model's accuracy is not in the shipped model card; measure it "
                    "with `python main.py evaluate --model FILE`")
    return ("The readings come from a small network trained on FER-2013: 48x48 grayscale "
            "faces cut from web photos, mostly frontal, each named by ten people with one of "
            f"seven expressions (FER+). {measured}. It reads the expression a face shows, not "
            "what the person feels: a smile can be polite, a frown can be concentration. "
            "Faces unlike its training photos (children, darker skin tones, strong head "
            "turns, dim light, drawings) are read less reliably. Use it to find moments "
            "worth watching again, not to judge a person.")
