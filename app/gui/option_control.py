"""The options the user sets from the View menu and the toolbar (mirror, smoothing,
the detector's sensitivity, the camera's resolution): remembered in the settings
(app.gui.settings) and handed to the engine."""

from PyQt5.QtCore import QObject, pyqtSignal

SENSITIVITY_STEP = 10


class OptionControl(QObject):
    """Connects the option actions and the sensitivity slider to `settings` and
    `engine`; `cameraSizeChanged` when another camera resolution is chosen."""

    message = pyqtSignal(str, bool)
    cameraSizeChanged = pyqtSignal()

    def __init__(self, actions, slider, settings, engine, parent=None):
        super().__init__(parent)
        self.acts, self.slider, self.settings, self.engine = actions, slider, settings, engine
        self._restore()
        actions.mirror.toggled.connect(self.set_mirror)
        actions.smoothing.toggled.connect(self.set_smoothing)
        actions.more.triggered.connect(lambda: self.step_sensitivity(+1))
        actions.less.triggered.connect(lambda: self.step_sensitivity(-1))
        actions.resolutions.triggered.connect(lambda act: self.set_camera_size(act.data()))
        slider.valueChanged.connect(self.set_sensitivity)

    def _restore(self):
        s, a = self.settings, self.acts
        self.engine.set_camera_size(s.camera_size)
        self._check_size(s.camera_size)
        a.mirror.setChecked(s.mirror)
        a.smoothing.setChecked(s.smoothing)
        self.slider.setValue(int(round(s.sensitivity * 100)))
        self.engine.set_options(smoothing=s.smoothing, mirror=s.mirror,
                                sensitivity=s.sensitivity)

    def set_mirror(self, on: bool):
        self.settings.mirror = on
        self.engine.set_options(mirror=on)

    def set_smoothing(self, on: bool):
        self.settings.smoothing = on
        self.engine.set_options(smoothing=on)

    def set_sensitivity(self, value: int):
        self.settings.sensitivity = value / 100.0
        self.engine.set_options(sensitivity=value / 100.0)
        self.message.emit(f"Detector sensitivity {value}%", False)

    def step_sensitivity(self, direction: int):
        self.slider.setValue(self.slider.value() + direction * SENSITIVITY_STEP)

    def set_camera_size(self, size):
        """Ask cameras for `size` (width, height), or None for their own."""
        size = tuple(size) if size else None
        self.engine.set_camera_size(size)
        self.settings.camera_size = size
        self._check_size(size)
        self.cameraSizeChanged.emit()

    def _check_size(self, size):
        for act in self.acts.resolutions.actions():
            act.setChecked((tuple(act.data()) if act.data() else None) == size)
