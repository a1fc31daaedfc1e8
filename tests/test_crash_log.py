"""A crash leaves a log file in the user's folder and says where (app.crash_log);
the standalone app's own answers (app.frozen)."""

import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from app import crash_log, frozen
from model.runtime.errors import UserError
from tests.conftest import REPO


@pytest.fixture(autouse=True)
def boxes(monkeypatch):
    """The message boxes report() would show (a real one would wait to be closed)."""
    shown = []
    monkeypatch.setattr(crash_log, "_message_box", lambda message, path: shown.append(path))
    return shown


def _raise():
    try:
        raise ValueError("boom in a slot")
    except ValueError:
        return sys.exc_info()


def test_an_uncaught_exception_is_logged_to_a_file_and_its_path_printed(tmp_path, monkeypatch,
                                                                         capsys, boxes):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    monkeypatch.setattr(threading, "excepthook", threading.excepthook)
    crash_log.install()
    sys.excepthook(*_raise())
    logs = list((tmp_path / "state" / "emotion-detector").glob("crash-*.log"))
    assert len(logs) == 1
    text = logs[0].read_text()
    assert "ValueError: boom in a slot" in text and "Traceback" in text and "_raise" in text
    assert str(logs[0]) in capsys.readouterr().err
    assert boxes == [logs[0]]                        # on the main thread: a box too


def test_a_crash_in_another_thread_is_logged_with_its_name(tmp_path, monkeypatch, boxes):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    monkeypatch.setattr(threading, "excepthook", threading.excepthook)
    crash_log.install()
    worker = threading.Thread(target=lambda: 1 / 0, name="capture")
    worker.start()
    worker.join()
    (log,) = (tmp_path / "state" / "emotion-detector").glob("crash-*.log")
    assert "thread: capture" in log.read_text() and "ZeroDivisionError" in log.read_text()
    assert boxes == []                               # no widgets off the GUI thread


@pytest.mark.parametrize("platform, tail", [("linux", ".local/state/emotion-detector"),
                                            ("darwin", "Library/Logs/EmotionDetector")])
def test_the_log_folder_is_the_platforms(platform, tail, monkeypatch, tmp_path):
    monkeypatch.delenv("XDG_STATE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert crash_log.log_folder(platform) == tmp_path / tail


def test_tensorflow_commands_answer_one_line_only_when_frozen(monkeypatch):
    frozen.check_command("train")                    # a Python install: nothing to say
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(frozen.importlib.util, "find_spec", lambda name: None)
    for command in frozen.TENSORFLOW_COMMANDS:
        with pytest.raises(UserError, match="needs the Python install with TensorFlow"):
            frozen.check_command(command)
    frozen.check_command("process")
    frozen.check_command(None)


FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


@pytest.mark.skipif(not FONT.is_file(), reason=f"needs {FONT} (Debian: fonts-dejavu-core)")
def test_on_a_system_without_fonts_the_bundles_font_is_the_apps(tmp_path):
    """fontconfig with no font folder: Qt lists only generic names, and the frozen
    app's window takes the font the bundle carries (fonts/ in sys._MEIPASS)."""
    (tmp_path / "fonts").mkdir()
    shutil.copy(FONT, tmp_path / "fonts")
    conf = tmp_path / "empty-fonts.conf"
    conf.write_text('<?xml version="1.0"?>\n<fontconfig><cachedir>'
                    f'{tmp_path / "cache"}</cachedir></fontconfig>\n')
    code = ("import sys\n"
            f"sys.frozen, sys._MEIPASS = True, {str(tmp_path)!r}\n"
            "from PyQt5.QtWidgets import QApplication\n"
            "from PyQt5.QtGui import QFontDatabase\n"
            "app = QApplication(['x'])\n"
            "before = sorted(QFontDatabase().families())\n"
            "from app.frozen import add_fonts_if_none\n"
            "add_fonts_if_none(app)\n"
            "print(before, '|', app.font().family())\n")
    env = {**os.environ, "FONTCONFIG_FILE": str(conf), "QT_QPA_PLATFORM": "offscreen",
           "XDG_RUNTIME_DIR": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, timeout=120, cwd=REPO)
    assert out.returncode == 0, out.stderr[-2000:]
    before, family = out.stdout.strip().rsplit("|", 1)
    assert "DejaVu" not in before and family.strip() == "DejaVu Sans", out.stdout


def test_the_window_run_restores_the_hooks_and_logs_what_ends_it(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    before = sys.excepthook, threading.excepthook
    with pytest.raises(UserError), crash_log.installed():
        assert sys.excepthook is not before[0]
        raise UserError("no display")                # the CLI's one line, not a crash
    assert not (tmp_path / "state").exists()
    with pytest.raises(RuntimeError), crash_log.installed():
        raise RuntimeError("the window failed")
    assert (sys.excepthook, threading.excepthook) == before
    (log,) = (tmp_path / "state" / "emotion-detector").glob("crash-*.log")
    assert "RuntimeError: the window failed" in log.read_text()
