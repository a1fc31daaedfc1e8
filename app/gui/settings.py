"""What the app remembers between runs (QSettings): source, snapshot folder,
sensitivity, mirror, smoothing, window geometry.

`EMOTION_DETECTOR_SETTINGS=/path/file.ini` stores them in that file instead of the
user's settings, so tests and trial runs never touch (or depend on) them.
"""

import logging
import os
from pathlib import Path

from PyQt5.QtCore import QSettings, QStandardPaths

from app import APP_NAME
from app.core.config import DEFAULTS

log = logging.getLogger(__name__)

SETTINGS_ENV = "EMOTION_DETECTOR_SETTINGS"
RECENT_MAX = 8


def default_snapshot_dir() -> Path:
    """The user's Pictures folder (XDG aware), subfolder EmotionDetector."""
    pictures = QStandardPaths.writableLocation(QStandardPaths.PicturesLocation)
    return Path(pictures or Path.home() / "Pictures") / APP_NAME


class Settings:
    """Typed access to the stored settings; a bad stored value falls back to the default."""

    def __init__(self, qsettings: QSettings | None = None):
        if qsettings is None:
            path = os.environ.get(SETTINGS_ENV)
            qsettings = (QSettings(path, QSettings.Format.IniFormat) if path
                         else QSettings(APP_NAME, APP_NAME))
        self._q = qsettings

    @property
    def location(self) -> str:
        return self._q.fileName()

    def _get(self, key, default, kind):
        value = self._q.value(key, default)
        try:
            if value is None:              # a value QSettings could not parse
                raise ValueError
            if kind is bool and not isinstance(value, bool):
                return {"true": True, "1": True, "yes": True,
                        "false": False, "0": False, "no": False}[str(value).strip().lower()]
            return kind(value)
        except (TypeError, ValueError, KeyError):
            log.warning("ignoring bad setting %s=%r", key, value)
            return default

    @property
    def source(self) -> str:
        return self._get("source", "0", str) or "0"

    @source.setter
    def source(self, value):
        self._q.setValue("source", str(value))

    @property
    def camera_size(self) -> tuple[int, int] | None:
        """The camera resolution asked for, (width, height); None: the camera's own."""
        value = self._get("camera_size", "", str)
        try:
            w, h = (int(v) for v in value.lower().split("x"))
            return (w, h) if w > 0 and h > 0 else None
        except ValueError:
            if value:
                log.warning("ignoring bad setting camera_size=%r", value)
            return None

    @camera_size.setter
    def camera_size(self, size):
        self._q.setValue("camera_size", f"{size[0]}x{size[1]}" if size else "")

    @property
    def recent(self) -> list[str]:
        """The files and folders opened last, newest first (at most RECENT_MAX)."""
        value = self._q.value("recent", [])
        if isinstance(value, str):
            value = [value] if value else []
        if not isinstance(value, list):
            log.warning("ignoring bad setting recent=%r", value)
            return []
        return [str(v) for v in value if str(v)][:RECENT_MAX]

    def add_recent(self, path: str):
        items = [str(path)] + [p for p in self.recent if p != str(path)]
        self._q.setValue("recent", items[:RECENT_MAX])

    @property
    def snapshot_dir(self) -> Path:
        value = self._get("snapshot_dir", "", str)
        return Path(value) if value else default_snapshot_dir()

    @snapshot_dir.setter
    def snapshot_dir(self, value):
        self._q.setValue("snapshot_dir", str(value))

    @property
    def sensitivity(self) -> float:
        return DEFAULTS.with_changes(
            sensitivity=self._get("sensitivity", DEFAULTS.sensitivity, float)).sensitivity

    @sensitivity.setter
    def sensitivity(self, value: float):
        self._q.setValue("sensitivity", float(value))

    @property
    def mirror(self) -> bool:
        return self._get("mirror", False, bool)

    @mirror.setter
    def mirror(self, value: bool):
        self._q.setValue("mirror", bool(value))

    @property
    def smoothing(self) -> bool:
        return self._get("smoothing", DEFAULTS.smoothing, bool)

    @smoothing.setter
    def smoothing(self, value: bool):
        self._q.setValue("smoothing", bool(value))

    @property
    def geometry(self):
        return self._q.value("geometry")

    @geometry.setter
    def geometry(self, value):
        self._q.setValue("geometry", value)

    def sync(self):
        self._q.sync()
        if self._q.status() != QSettings.Status.NoError:
            log.warning("could not save settings to %s", self.location)
