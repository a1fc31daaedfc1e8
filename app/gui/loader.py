"""Loading a model off the GUI thread: a .keras model imports TensorFlow, which takes
seconds, and frames go on meanwhile."""

import logging

from PyQt5.QtCore import QObject, pyqtSignal, pyqtSlot

from app.gui.options import LiveValues

log = logging.getLogger(__name__)


class ModelLoader(QObject):
    """Builds a pipeline (loads the model) in its own thread."""

    loaded = pyqtSignal(object, object)     # pipeline, the path asked for
    failed = pyqtSignal(str, object)        # the reason, a faces-only stand-in (or None)

    def __init__(self, factory=None):
        super().__init__()
        self._factory = factory or default_pipeline

    @pyqtSlot(object, object)
    def load(self, path, options: LiveValues):
        try:
            pipeline = self._factory(path, options.smoothing, options.sensitivity)
        except Exception as exc:  # noqa: BLE001 - ModelError and any bad-file error
            self.failed.emit(str(exc), faces_only_pipeline(options))
            return
        self.loaded.emit(pipeline, path)


def faces_only_pipeline(options: LiveValues):
    """Boxes without emotions, for while no model works (None if even that fails)."""
    from app.core.face_reader import NoModel
    from app.core.pipeline import EmotionPipeline

    try:
        return EmotionPipeline(classifier=NoModel(), smoothing=options.smoothing,
                               sensitivity=options.sensitivity)
    except Exception:  # noqa: BLE001 - no detector either: frames are shown bare
        log.exception("face detector not available")
        return None


def default_pipeline(path, smoothing, sensitivity):
    from app.core.pipeline import EmotionPipeline

    return EmotionPipeline(model_path=path, smoothing=smoothing, sensitivity=sensitivity)
