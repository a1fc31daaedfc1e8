"""Stored settings: a damaged settings file falls back to the defaults, one by one."""

import pytest

pytest.importorskip("PyQt5")

from PyQt5.QtCore import QSettings  # noqa: E402

from app.core.config import DEFAULTS  # noqa: E402
from app.gui.settings import Settings  # noqa: E402


def _settings(path, text):
    path.write_text(text)
    return Settings(QSettings(str(path), QSettings.Format.IniFormat))


def test_corrupt_stored_values_fall_back_to_the_defaults(tmp_path):
    s = _settings(tmp_path / "bad.ini", "[General]\nsensitivity=loud\nsmoothing=@Invalid()\n"
                                          "mirror=perhaps\nsource=\nsnapshot_dir=\n")
    assert s.sensitivity == DEFAULTS.sensitivity
    assert s.smoothing is True and DEFAULTS.smoothing is True   # not bool(None) == False
    assert s.mirror is False
    assert s.source == "0"                                   # empty -> camera 0
    assert s.snapshot_dir.name == "EmotionDetector"


def test_good_stored_values_are_read_and_clamped(tmp_path):
    s = _settings(tmp_path / "good.ini", "[General]\nsensitivity=7.5\nsmoothing=false\n"
                                           "mirror=true\nsource=clip.avi\n")
    assert s.sensitivity == 1.0 and s.smoothing is False and s.mirror is True
    assert s.source == "clip.avi"


def test_a_file_that_is_not_a_settings_file_gives_the_defaults(tmp_path):
    s = _settings(tmp_path / "junk.ini", "\x00\x01 not ini at all \xff" * 20)
    assert (s.sensitivity, s.smoothing, s.mirror, s.source) == \
        (DEFAULTS.sensitivity, DEFAULTS.smoothing, False, "0")
