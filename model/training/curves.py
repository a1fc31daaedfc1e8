"""Training curves with matplotlib (part of the `train` extra): accuracy and loss per epoch."""

from pathlib import Path

import model.runtime.atomic as atomic

SERIES = {  # history key -> legend label
    "accuracy": "training (augmented faces)",
    "val_accuracy": "PublicTest",
    "loss": "training (augmented faces)",
    "val_loss": "PublicTest",
}


def save_curves(history: dict, path: Path, title: str = "") -> Path:
    """One PNG, accuracy above loss, x = epoch (1, 2, ...), a legend on each panel."""
    import matplotlib

    matplotlib.use("Agg")  # no display needed; never opens a window
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, axes = plt.subplots(2, 1, figsize=(8, 7), sharex=True)
    for ax, kind in zip(axes, ("accuracy", "loss")):
        for key in (kind, f"val_{kind}"):
            values = history.get(key) or []
            if values:
                ax.plot(range(1, len(values) + 1), values, marker="o", markersize=3,
                        label=SERIES[key])
        if kind == "accuracy" and history.get("val_accuracy"):
            best = max(range(len(history["val_accuracy"])),
                       key=history["val_accuracy"].__getitem__)
            ax.axvline(best + 1, color="grey", linestyle=":",
                       label=f"best PublicTest epoch ({best + 1})")
        ax.set_ylabel(kind)
        ax.grid(alpha=0.3)
        ax.legend(loc="lower right" if kind == "accuracy" else "upper right")
    axes[-1].set_xlabel("epoch")
    axes[-1].xaxis.set_major_locator(MaxNLocator(integer=True))
    axes[0].set_title(title or "Training curves")
    fig.tight_layout()
    with atomic.atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    plt.close(fig)
    return path
