"""A launcher in the desktop's application menu (freedesktop.org `.desktop` file)
and the app's icon, installed under the user's data folder, nothing system-wide."""

import logging
import os
import shlex
import sys
from pathlib import Path

import cv2
import numpy as np

import model.runtime.atomic as atomic
from app import APP_ID
from app.frozen import is_frozen
from model.runtime.errors import UserError

log = logging.getLogger(__name__)



def data_home() -> Path:
    """$XDG_DATA_HOME, else ~/.local/share (the XDG base directory default)."""
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")


def entry_paths() -> tuple[Path, Path]:
    """(the .desktop file, the icon) this module writes."""
    home = data_home()
    return (home / "applications" / f"{APP_ID}.desktop",
            home / "icons" / "hicolor" / "256x256" / "apps" / f"{APP_ID}.png")


def icon_image(size: int = 256) -> np.ndarray:
    """The app's icon: a drawn face in a ring of the seven emotion colours (BGRA)."""
    from app.io.synthetic import drawn_face
    from model.runtime.emotions import EMOTION_COLORS

    img = np.zeros((size, size, 4), np.uint8)
    c, r = size // 2, int(size * 0.47)
    for i, color in enumerate(EMOTION_COLORS.values()):
        a0 = -90 + i * 360 / len(EMOTION_COLORS)
        cv2.ellipse(img, (c, c), (r, r), 0, a0, a0 + 360 / len(EMOTION_COLORS),
                    (*color, 255), -1, cv2.LINE_AA)
    face = cv2.cvtColor(drawn_face(int(size * 0.7), "happy"), cv2.COLOR_GRAY2BGRA)
    mask = np.zeros((size, size), np.uint8)
    cv2.circle(mask, (c, c), int(size * 0.36), 255, -1, cv2.LINE_AA)
    x0 = c - face.shape[1] // 2
    canvas = img.copy()
    canvas[x0:x0 + face.shape[0], x0:x0 + face.shape[1]] = face
    img[mask > 0] = canvas[mask > 0]
    return img


def launcher_command() -> str:
    """How the menu starts the app: the standalone app's executable, this install's
    console script, else main.py."""
    if is_frozen():
        return shlex.quote(sys.executable)
    script = Path(sys.executable).parent / APP_ID
    if script.is_file():
        return shlex.quote(str(script))
    main = Path(__file__).resolve().parents[2] / "main.py"
    return f"{shlex.quote(sys.executable)} {shlex.quote(str(main))}"


def linux_only(platform: str = sys.platform) -> None:
    """The menu entry is a freedesktop.org file: Linux (and BSD) desktops read it."""
    if platform in ("win32", "darwin", "cygwin"):
        raise UserError("--install-desktop-entry is for Linux desktops; on Windows or "
                        "macOS start the app with `emotion-detector` (or pin that command)")


def install() -> tuple[Path, Path]:
    linux_only()
    desktop, icon = entry_paths()
    for folder in (desktop.parent, icon.parent):
        folder.mkdir(parents=True, exist_ok=True)
    ok, png = cv2.imencode(".png", icon_image())
    if not ok:
        raise OSError("cannot encode the icon")
    atomic.write_bytes(icon, png.tobytes())
    atomic.write_text(desktop, "\n".join([
        "[Desktop Entry]", "Type=Application", "Name=Emotion Detector",
        "Comment=See the emotion of every face, live from your webcam or in video files",
        f"Exec={launcher_command()}", f"Icon={icon}", "Terminal=false",
        "Categories=AudioVideo;Video;Graphics;", "Keywords=emotion;face;webcam;", ""]))
    log.info("installed %s and %s", desktop, icon)
    return desktop, icon


def uninstall() -> list[Path]:
    removed = []
    for path in entry_paths():
        try:
            path.unlink()
            removed.append(path)
        except FileNotFoundError:
            pass
    log.info("removed %s", ", ".join(map(str, removed)) if removed else "nothing (not installed)")
    return removed
