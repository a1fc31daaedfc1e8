"""One way to run a worker QObject in its own QThread, and one way to stop it.

The pattern of the Qt for Python examples: the worker is moved to a new QThread,
news leaves it by signals. Stopping waits a bounded time and never destroys a
running QThread (that aborts the program): a thread still busy after its bound (a
camera driver stuck in a read, TensorFlow importing for a .keras model) is kept in
`_LEFT_RUNNING` and ends with the program.
"""

import logging

from PyQt5 import sip
from PyQt5.QtCore import QObject, QThread

log = logging.getLogger(__name__)

_LEFT_RUNNING: list = []

# PyQt's clean-up at exit destroys the QThread objects Python still holds; one that
# is still running (see _LEFT_RUNNING) would abort the program instead of exiting.
sip.setdestroyonexit(False)


def start_worker(worker: QObject, name: str, run=None) -> QThread:
    """Move `worker` to a new QThread named `name` and start it (`run` on start).
    The caller keeps the thread (as `worker_thread`, never `thread`: that would hide
    QObject.thread())."""
    thread = QThread()
    thread.setObjectName(name)
    worker.moveToThread(thread)
    if run is not None:
        thread.started.connect(run)
    thread.start()
    return thread


def stop_thread(thread: QThread, worker: QObject, timeout: float, what: str) -> bool:
    """Quit `thread` and wait up to `timeout` s; one still busy is kept alive, with its
    worker (destroying either while it runs would crash the program)."""
    thread.quit()
    if thread.wait(int(timeout * 1000)):
        return True
    log.warning("%s did not stop within %.2f s; leaving it to end with the program",
                what, timeout)
    _LEFT_RUNNING.append((thread, worker))
    return False
