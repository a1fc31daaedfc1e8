"""The emotion model from the window's side: load another (File > Load model), and
what the window shows of the model's news (a banner over the picture, the status).

While no model works the status says so with every other news (`StatusLine.model_error`);
a model that loads ends any neutral baseline measured with the one before.
"""

import logging
from pathlib import Path

from PyQt5.QtCore import QObject, pyqtSignal
from PyQt5.QtWidgets import QFileDialog

from model.runtime.classifier import MODEL_TYPES

log = logging.getLogger(__name__)

MODEL_FILTER = "Models (" + " ".join(f"*{t}" for t in MODEL_TYPES) + ");;All files (*)"


class ModelControl(QObject):
    """Loads models through `engine` and says how it went on `view` and `status`;
    `baseline` (NeutralBaseline) hears of each new model. `name`: the model in use."""

    message = pyqtSignal(str, bool)          # text, whether it is an error

    def __init__(self, engine, view, status, baseline, parent=None):
        super().__init__(parent)
        self.engine, self.view, self.status, self.baseline = engine, view, status, baseline
        self.name = ""                       # the file name of the model in use
        self._asked = False                  # the user asked for another model
        engine.modelLoaded.connect(self._on_loaded)
        engine.modelFailed.connect(self._on_failed)

    def choose(self, parent):
        path, _ = QFileDialog.getOpenFileName(parent, "Emotion model", str(Path.home()),
                                              MODEL_FILTER)
        if path:
            self.load(path)

    def load(self, path):
        """Load `path` (None: the shipped model); the current one works meanwhile."""
        self._asked = True
        self.view.set_banner("Loading model…")
        self.engine.load_model(path)

    def _on_loaded(self, path, reference, why_none):
        self.name = Path(path).name
        self.status.model_error = ""
        self.view.set_banner("")
        note = self.baseline.use_model(reference, why_none)
        if self._asked or note:      # not at start-up: it would hide the source's news
            self.status.show(f"Emotion model loaded: {self.name}{note}", about_model=True)
        self._asked = False
        log.info("model loaded: %s", path)
        self.engine.reprocess()

    def _on_failed(self, message, kept: bool):
        if kept:   # the model in use goes on; only this file was refused
            self.view.set_banner("")
            self.status.show(f"Emotion model not loaded: {message}. Still using "
                             f"{self.name}.", error=True, about_model=True)
            return
        self.status.model_error = message
        self.view.set_banner(f"Emotion model not loaded: {message}. The picture is shown "
                             "without emotions; load another model with File > Load model "
                             "(Ctrl+L).")
        self.status.show(f"Emotion model not loaded: {message}", error=True, about_model=True)
        self.engine.reprocess()
