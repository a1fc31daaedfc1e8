"""Import TensorFlow for `train` (and .keras models) quietly, or say how to install it.

TensorFlow's C++ core writes start-up and converter chatter (oneDNN, CPU
features, NodeDef attributes, quantisation statistics) straight to file
descriptor 2, before its own log settings apply, so TF_CPP_MIN_LOG_LEVEL alone
does not silence it. `native_stderr_to` moves descriptor 2 to a log file while
Python's own stderr (our log lines and the progress bar) stays on the terminal.
"""

import contextlib
import logging
import os
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from model.runtime.errors import MissingExtraError

INSTALL_HINT = "install the training extra: pip install -e '.[train]'"


def import_tensorflow() -> tuple[Any, Any]:   # (neither ships type information)
    """(tensorflow, keras), or MissingExtraError in one line when they are not installed."""
    try:
        import keras
        import tensorflow as tf
    except ImportError as exc:
        raise MissingExtraError(f"this needs TensorFlow and Keras ({exc}); "
                                f"{INSTALL_HINT}") from None
    return tf, keras


def quiet_tensorflow() -> None:
    """Hide TensorFlow's and Keras' Python warnings and log lines (call before importing)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    for module in ("keras", "tensorflow", "absl"):
        warnings.filterwarnings("ignore", module=module)
    logging.getLogger("tensorflow").setLevel(logging.ERROR)


@contextlib.contextmanager
def native_stderr_to(path: str | Path | None) -> Iterator[None]:
    """While inside, what C/C++ code writes to stderr goes to `path` (None: discarded)."""
    sys.stderr.flush()
    saved = os.dup(2)
    python_stderr = os.fdopen(os.dup(saved), "w", buffering=1, encoding="utf-8",
                              errors="replace")
    old = sys.stderr
    handlers = [h for h in logging.root.handlers
                if isinstance(h, logging.StreamHandler) and h.stream is old]
    target = os.open(path or os.devnull, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.dup2(target, 2)
        sys.stderr = python_stderr
        for h in handlers:
            h.setStream(python_stderr)
        yield
    finally:
        python_stderr.flush()
        sys.stderr = old
        for h in handlers:
            h.setStream(old)
        os.dup2(saved, 2)
        os.close(saved)
        os.close(target)
        python_stderr.close()
