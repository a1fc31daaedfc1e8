"""A crash leaves a log file in the user's folder and says where (app.crash_log);
the standalone app's own answers (app.frozen)."""

import sys
import threading

import pytest

from app import crash_log, frozen
from model.errors import UserError


def _raise():
    try:
        raise ValueError("boom in a slot")
    except ValueError:
        return sys.exc_info()


def test_an_uncaught_exception_is_logged_to_a_file_and_its_path_printed(tmp_path, monkeypatch,
                                                                         capsys):
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


def test_a_crash_in_another_thread_is_logged_with_its_name(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    monkeypatch.setattr(threading, "excepthook", threading.excepthook)
    crash_log.install()
    worker = threading.Thread(target=lambda: 1 / 0, name="capture")
    worker.start()
    worker.join()
    (log,) = (tmp_path / "state" / "emotion-detector").glob("crash-*.log")
    assert "thread: capture" in log.read_text() and "ZeroDivisionError" in log.read_text()


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
