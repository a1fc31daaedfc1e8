"""An uncaught exception is written to a log file in the user's folder and its path
shown on stderr and, when a window is up, in a message box: an app started from
the desktop's menu has no terminal to print a traceback to."""

import contextlib
import datetime as dt
import logging
import os
import sys
import threading
import traceback
from pathlib import Path

import model.runtime.atomic as atomic
from app import APP_ID, APP_NAME, __version__
from app.frozen import is_frozen
from model.runtime.errors import UserError

log = logging.getLogger(__name__)



def log_folder(platform: str = sys.platform) -> Path:
    """Where crash logs go: the platform's folder for an app's logs and state."""
    home = Path.home()
    if platform == "win32":
        return Path(os.environ.get("LOCALAPPDATA") or home / "AppData" / "Local") \
            / APP_NAME / "Logs"
    if platform == "darwin":
        return home / "Library" / "Logs" / APP_NAME
    # XDG base directories: $XDG_STATE_HOME, else ~/.local/state
    return Path(os.environ.get("XDG_STATE_HOME") or home / ".local" / "state") / APP_ID


def write_report(exc_type, exc, tb, where: str = "") -> Path:
    """Write the traceback and the versions to a new crash-*.log; its path."""
    folder = log_folder()
    folder.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S-%f")
    path = folder / f"crash-{stamp}.log"
    text = "".join([
        f"Emotion Detector {__version__}, Python {sys.version.split()[0]} on {sys.platform}"
        f"{' (standalone app)' if is_frozen() else ''}\n",
        f"command: {' '.join(sys.argv)}\n", f"thread: {where}\n" if where else "", "\n",
        *traceback.format_exception(exc_type, exc, tb)])
    atomic.write_text(path, text)
    return path


def report(exc_type, exc, tb, where: str = "") -> Path | None:
    """Log the crash to a file and say where, on stderr and in a box if it can."""
    try:
        path = write_report(exc_type, exc, tb, where)
    except OSError as err:               # no writable home: the traceback at least
        traceback.print_exception(exc_type, exc, tb)
        print(f"emotion-detector: could not write a crash log: {err}", file=sys.stderr)
        return None
    message = f"{exc_type.__name__}: {exc}"
    print(f"emotion-detector crashed ({message}); the details are in {path}", file=sys.stderr)
    if threading.current_thread() is threading.main_thread():
        _message_box(message, path)
    return path


# the boxes shown (a parentless widget lives while Python holds it)
_boxes: list[object] = []


def _message_box(message: str, path: Path):
    """A box on the GUI thread when a QApplication exists (never import Qt for it).
    In the event loop (a slot failed) it does not block: the app goes on. Outside
    it (the window failed to start, the app is about to end) it waits to be closed."""
    qtwidgets = sys.modules.get("PyQt5.QtWidgets")
    if qtwidgets is None or qtwidgets.QApplication.instance() is None:
        return
    try:
        box = qtwidgets.QMessageBox(
            qtwidgets.QMessageBox.Critical, "Emotion Detector - error",
            f"Something went wrong: {message}\n\nThe details were saved in\n{path}")
        if sys.modules["PyQt5.QtCore"].QThread.currentThread().loopLevel() == 0:
            box.exec_()
            return
        box.finished.connect(lambda _: _boxes.remove(box))
        _boxes.append(box)
        box.show()
    except Exception:  # noqa: BLE001 - the log and stderr already say it
        log.debug("no message box for the crash", exc_info=True)


def _hook(exc_type, exc, tb):
    if issubclass(exc_type, KeyboardInterrupt):
        return sys.__excepthook__(exc_type, exc, tb)
    report(exc_type, exc, tb)


def _thread_hook(args):
    if args.exc_type is SystemExit:
        return
    report(args.exc_type, args.exc_value, args.exc_traceback,
           where=getattr(args.thread, "name", ""))


def install():
    """Send uncaught exceptions (main thread, Qt slots, other threads) to report()."""
    sys.excepthook = _hook
    threading.excepthook = _thread_hook


@contextlib.contextmanager
def installed():
    """install() for the duration of the block (the window's run), then the hooks
    that were there before; a failure that ends the block is reported too."""
    before = sys.excepthook, threading.excepthook
    install()
    try:
        yield
    except UserError:
        raise                            # one line the CLI prints, not a crash
    except Exception:
        report(*sys.exc_info())
        raise
    finally:
        sys.excepthook, threading.excepthook = before
