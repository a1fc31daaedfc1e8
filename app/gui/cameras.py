"""Choosing a camera: which cameras open is probed off the GUI thread (opening one
can take a while); the toolbar's box and the Camera menu list them."""

import logging

from PyQt5.QtCore import QObject, Qt, pyqtSignal, pyqtSlot
from PyQt5.QtGui import QKeySequence
from PyQt5.QtWidgets import QAction, QActionGroup, QComboBox, QMenu

from app.gui.threads import start_worker, stop_thread

log = logging.getLogger(__name__)

STOP_TIMEOUT = 0.45     # s for a probe at shutdown (a driver may be slow to answer)


class CameraLister(QObject):
    """Probes the cameras in its own thread; `found(list of indexes)`."""

    found = pyqtSignal(object)

    def __init__(self, lister):
        super().__init__()
        self._lister = lister

    @pyqtSlot()
    def probe(self):
        try:
            found = self._lister()
        except Exception:  # noqa: BLE001 - a broken driver must not end the app
            log.exception("listing cameras failed")
            found = []
        self.found.emit(found)


class CameraChooser(QObject):
    """The camera box, the Camera menu (`menu`, given a QMenu) and their actions
    (Ctrl+1..9); `chosen(spec)` when the user picks one."""

    chosen = pyqtSignal(str)
    _probe = pyqtSignal()

    def __init__(self, window, lister):
        super().__init__(window)
        self._window = window
        self.box = QComboBox()
        self.box.setMinimumContentsLength(10)
        self.box.setToolTip("Camera (only the cameras that open are listed)")
        self.box.setFocusPolicy(Qt.FocusPolicy.NoFocus)      # keep Space for snapshots
        self.box.activated.connect(self._box_chosen)
        self.menu: QMenu | None = None
        self.actions = QActionGroup(window)
        self.actions.triggered.connect(lambda act: self.chosen.emit(act.data()))
        self._spec, self._running = None, False
        self.lister = CameraLister(lister)
        self.lister.found.connect(self._fill)
        self._probe.connect(self.lister.probe)
        self.worker_thread = start_worker(self.lister, "camera-probe")

    def refresh(self):
        """Probe the cameras again (in the probe's thread)."""
        self.box.clear()
        self.box.addItem("Looking…")
        self.box.setEnabled(False)
        self._probe.emit()

    def sync(self, spec, running: bool):
        """Show `spec` (a camera index, or a file) as the source; `running`: it plays."""
        self._spec, self._running = spec, running
        row = self.box.findData(int(spec)) if spec and spec.isdigit() else -1
        if row < 0 and self.box.count() and self.box.itemData(0) is None:
            row = 0   # the "No camera" / "Looking…" item
        self.box.setCurrentIndex(row)
        for act in self.actions.actions():
            act.setChecked(act.data() == spec)

    def stop(self):
        stop_thread(self.worker_thread, self.lister, STOP_TIMEOUT, "the camera probe")

    def _fill(self, found):
        spec = self._spec
        cameras = sorted(set(found) | ({int(spec)} if spec and spec.isdigit()
                                       and self._running else set()))
        self.box.clear()
        if self.menu is not None:
            self.menu.clear()
        for act in self.actions.actions():
            self.actions.removeAction(act)
        for i, index in enumerate(cameras):
            self.box.addItem(f"Camera {index}", index)
            act = QAction(f"Camera {index}", self._window)
            act.setCheckable(True)
            act.setData(str(index))
            if i < 9:
                act.setShortcut(QKeySequence(f"Ctrl+{i + 1}"))
            self.actions.addAction(act)
            if self.menu is not None:
                self.menu.addAction(act)
        if not cameras:   # an item, not placeholder text: Qt 5.15 does not draw that
            self.box.addItem("No camera")
            if self.menu is not None:
                found = self.menu.addAction("No camera found")
                if found is not None:
                    found.setEnabled(False)
        self.box.setEnabled(bool(cameras))
        self.sync(self._spec, self._running)

    def _box_chosen(self, row):
        index = self.box.itemData(row)
        if index is not None:
            self.chosen.emit(str(index))
