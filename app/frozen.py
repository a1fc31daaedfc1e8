"""What differs when the app runs from the standalone bundle (PyInstaller sets
sys.frozen): no TensorFlow inside, and perhaps no system font for Qt."""

import importlib.util
import logging
import sys
from pathlib import Path

from model.runtime.errors import UserError

log = logging.getLogger(__name__)

# The commands that train or read .keras models: TensorFlow is left out of the bundle.
TENSORFLOW_COMMANDS = ("train", "evaluate", "calibrate")


def is_frozen() -> bool:
    return bool(getattr(sys, "frozen", False))


def check_command(command) -> None:
    """One line, instead of an ImportError deep inside, for a command the bundle lacks."""
    if (command in TENSORFLOW_COMMANDS and is_frozen()
            and importlib.util.find_spec("tensorflow") is None):
        raise UserError(f"`{command}` needs the Python install with TensorFlow (pip install "
                        "'emotion-detector[train]'); the standalone app runs the window, "
                        "process and bench")


def bundled_fonts() -> list[Path]:
    """The fonts the build put into the bundle (fonts/*.ttf), none when not frozen."""
    base = getattr(sys, "_MEIPASS", None)
    return sorted((Path(base) / "fonts").glob("*.ttf")) if is_frozen() and base else []


# What Qt lists on a system without a single font file: fontconfig's generic names
GENERIC_FAMILIES = {"Sans Serif", "Serif", "Monospace", "Sans", "Mono"}


def add_fonts_if_none(app) -> None:
    """Qt draws no text on a system without fonts: give it the bundle's then, as the
    app's font. Call after the QApplication `app` exists."""
    from PyQt5.QtGui import QFont, QFontDatabase

    if not set(QFontDatabase().families()) <= GENERIC_FAMILIES:
        return
    for path in bundled_fonts():
        font_id = QFontDatabase.addApplicationFont(str(path))
        if font_id < 0:
            log.warning("could not load the font %s", path)
            continue
        family = QFontDatabase.applicationFontFamilies(font_id)[0]
        app.setFont(QFont(family, app.font().pointSize()))
        log.debug("no system fonts: using %s (%s)", family, path)
