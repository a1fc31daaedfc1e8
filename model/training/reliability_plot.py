"""The reliability diagram of `evaluate --reliability`, with matplotlib (the `train`
extra): accuracy against confidence per bin, beside the diagonal of a model that
means what it says."""

from pathlib import Path

import model.runtime.atomic as atomic
from model.runtime.errors import MissingExtraError


def check_matplotlib():
    """Fail before the work when the plotting library is missing."""
    try:
        import matplotlib  # noqa: F401
    except ImportError as exc:
        raise MissingExtraError("--reliability draws with matplotlib: install it with "
                                "pip install -e '.[train]'") from exc


def save_reliability(bins: list, path: Path, title: str) -> Path:
    """Bars of accuracy per confidence bin, the faces in each, and the diagonal."""
    import matplotlib

    matplotlib.use("Agg")  # no display needed; never opens a window
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 5.5))
    full = [b for b in bins if b["faces"]]
    width = bins[0]["high"] - bins[0]["low"]
    ax.bar([b["low"] for b in full], [b["accuracy"] for b in full], width=width,
           align="edge", edgecolor="black", color="#4c72b0", label="accuracy in the bin")
    ax.plot([0, 1], [0, 1], "--", color="grey", label="perfect calibration")
    ax.plot([b["confidence"] for b in full], [b["accuracy"] for b in full], "o",
            color="#dd8452", label="mean confidence in the bin")
    for b in full:
        ax.annotate(str(b["faces"]), (b["low"] + width / 2, 0.02), ha="center", fontsize=7)
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="confidence shown", ylabel="accuracy",
           title=title)
    ax.legend(loc="upper left", fontsize=8)
    with atomic.atomic_path(path, ".png") as tmp:
        fig.savefig(tmp, dpi=100, bbox_inches="tight", format="png")
    plt.close(fig)
    return path
