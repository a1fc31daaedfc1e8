"""What a run used, kept in its summary.json for the report: the model and the
pipeline's settings (as they were when the run started)."""

from pathlib import Path
from typing import TYPE_CHECKING, Any

from model.runtime.model_card import card_results

if TYPE_CHECKING:   # the pipeline is the caller's, built before
    from app.core.pipeline import EmotionPipeline


def describe_run(pipe: "EmotionPipeline", accurate: bool = False,
                 crops: bool = False) -> dict[str, Any]:
    """{"model": {path, networks, accurate}, "settings": {...}} of an EmotionPipeline
    (a window's pipeline without a model has no path)."""
    classifier = getattr(pipe, "classifier", None)
    path = getattr(classifier, "path", None)
    settings = {"smoothing": bool(pipe.smoothing),
                "sensitivity": round(float(pipe.sensitivity), 3),
                "min_face": int(pipe.detector.min_face)}
    if crops:
        settings["crops"] = True
    return {"model": {"path": str(path) if path else None,
                      "networks": int(getattr(classifier, "networks", 1) or 1),
                      "accurate": bool(accurate),
                      "card": card_results(Path(path).name) if path else {}},
            "settings": settings}
