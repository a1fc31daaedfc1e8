"""The shipped model card's results (assets/MODEL_CARD.md), read from the card so that
no figure is written twice: Help > About, the reports and the tests all ask here."""

import re
from pathlib import Path

from model.runtime.classifier import ASSETS

MODEL_CARD = ASSETS / "MODEL_CARD.md"
SPLITS = ("PublicTest", "PrivateTest")


def card_results(model_name: str, card: Path = MODEL_CARD) -> dict[str, str]:
    """{"PublicTest": "69.30%", "PrivateTest": "69.27%"}: what the card's first results
    table gives the model file `model_name`; {} when the card or its row is not there."""
    try:
        lines = card.read_text(encoding="utf-8").splitlines()
    except OSError:
        return {}
    columns = None
    for line in lines:
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if columns is None:
            if line.lstrip().startswith("|") and "PrivateTest" in cells:
                columns = {s: cells.index(s) for s in SPLITS if s in cells}
            continue
        if not line.lstrip().startswith("|"):
            break                                  # the end of that table
        if f"`{model_name}`" in line:
            found = {s: re.search(r"\d+(\.\d+)?%", cells[c]) for s, c in columns.items()
                     if c < len(cells)}
            return {s: m.group(0) for s, m in found.items() if m}
    return {}
