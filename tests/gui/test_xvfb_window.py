"""The real thing: `python main.py --source clip.avi` in a real X window on Xvfb,
with the real opencv-python (whose bundled Qt plugins would stop PyQt5's X11
plugin from loading, had the app not fixed that), looked at from outside with an
X-level screenshot of the whole screen (`xwd -root`).

Needs the Debian packages xvfb, x11-apps (xwd) and x11-utils (xwininfo), plus the
X11 libraries PyQt5's xcb plugin loads (see README, Troubleshooting).
"""

import json
import os
import re
import select
import shutil
import signal
import struct
import subprocess
import sys
import threading
from typing import Any

import cv2
import numpy as np
import pytest

from app.io import synthetic
from model.runtime.emotions import EMOTION_COLORS
from tests.conftest import REPO, video_frames, wait_until
from tests.gui_support import clip_recipe, write_clip

TOOLS = ("Xvfb", "xwd", "xwininfo")
SCREEN = (1280, 800)
CLIP_FRAMES = 150
WAIT_S = 90   # generous: a busy machine; a hang still fails

pytestmark = pytest.mark.skipif(
    not all(shutil.which(t) for t in TOOLS),
    reason="needs Xvfb, xwd and xwininfo (Debian: apt-get install xvfb x11-apps x11-utils)")


@pytest.fixture(scope="module")
def display():
    """A private Xvfb server; its display name (":N", a free number it picks)."""
    read_fd, write_fd = os.pipe()
    server = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", f"{SCREEN[0]}x{SCREEN[1]}x24",
         "-nolisten", "tcp"], pass_fds=(write_fd,), stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE)
    os.close(write_fd)
    try:
        ready, _, _ = select.select([read_fd], [], [], 30)
        number = os.read(read_fd, 64).decode().strip() if ready else ""
        if not number.isdigit():
            server.kill()
            pytest.fail(f"Xvfb did not start: {server.stderr.read1().decode()[-500:]}")
        yield f":{number}"
    finally:
        os.close(read_fd)
        server.terminate()
        server.wait(10)


def read_xwd(data: bytes) -> np.ndarray:
    """An `xwd` dump of a depth-24 TrueColor screen (24 or 32 bits a pixel) -> BGR."""
    h = struct.unpack(">25I", data[:100])
    header_size, depth, width, height = h[0], h[3], h[4], h[5]
    byte_order, bits_per_pixel, bytes_per_line, ncolors = h[7], h[11], h[12], h[19]
    assert depth == 24 and bits_per_pixel in (24, 32), h[:20]
    size = bits_per_pixel // 8
    offset = header_size + ncolors * 12
    pixels = np.frombuffer(data, np.uint8, height * bytes_per_line, offset)
    pixels = pixels.reshape(height, bytes_per_line)[:, :width * size].reshape(height, width, size)
    if byte_order == 0:                       # LSBFirst: blue, green, red(, pad)
        return pixels[:, :, :3].copy()
    return pixels[:, :, size - 1:size - 4:-1].copy()   # MSBFirst: (pad,) red, green, blue


def window_geometry(display: str, title: str):
    """(x, y, w, h) of the named top-level window, from the X server."""
    out = subprocess.run(["xwininfo", "-display", display, "-name", title],
                         capture_output=True, text=True, timeout=30)
    if out.returncode:
        return None
    fields = dict(re.findall(r"^\s*(Absolute upper-left [XY]|Width|Height|Map State):\s*(\S+)",
                             out.stdout, re.M))
    if fields.get("Map State") != "IsViewable":
        return None
    return tuple(int(fields[k]) for k in ("Absolute upper-left X", "Absolute upper-left Y",
                                          "Width", "Height"))


# The label's text (black or white, whichever reads on the emotion colour) and the
# bar's dark outline: drawn too, in the same colours whatever the emotion.
INK = ((0, 0, 0), (255, 255, 255), (40, 40, 40))


EMOTION_PALETTE = tuple(EMOTION_COLORS.values())


def annotation_pixels(bgr: np.ndarray, tol: int, palette=EMOTION_PALETTE) -> int:
    """Pixels in one of the `palette` colours (by default the emotion colours)."""
    diff = np.abs(bgr[:, :, None, :].astype(np.int16)
                  - np.array(list(palette), np.int16)[None, None])
    return int(np.any(np.all(diff <= tol, axis=3), axis=2).sum())


class AppProcess:
    """`python main.py ...` with its stderr collected line by line."""

    def __init__(self, args, env):
        self.proc = subprocess.Popen([sys.executable, "main.py", *args], cwd=REPO,
                                     env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)
        self.lines = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def log(self) -> str:
        return "\n".join(self.lines)

    def stats(self, min_faces):
        for line in reversed(self.lines):
            if " stats " in f" {line}" or line.startswith("INFO: stats"):
                values = dict(re.findall(r"(\w+)=([\d.,-]+)", line))
                if int(values["with_faces"]) >= min_faces:
                    return values
                return None
        return None


def test_window_on_xvfb_shows_annotated_frames(display, tmp_path):
    clip = write_clip(tmp_path / "face clip.avi", frames=CLIP_FRAMES)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("QT_", "EMOTION_DETECTOR"))}   # no offscreen, no cv2 paths
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    env.update(DISPLAY=display, XDG_RUNTIME_DIR=str(runtime),
               EMOTION_DETECTOR_SETTINGS=str(tmp_path / "settings.ini"))
    app = AppProcess(["--source", str(clip), "--snapshots", str(tmp_path / "snaps"),
                      "--record", str(tmp_path / "rec"),
                      "--loop", "--stats-every", "0.5", "--exit-after", "120"], env)
    # each wait fails at once if the app exits, showing what it wrote
    app_waits: dict[str, Any] = dict(timeout=WAIT_S, every=0.1, process=app.proc,
                                     log=lambda: app.log)
    try:
        stats = wait_until(lambda: app.stats(min_faces=15), "frames with faces shown",
                           **app_waits)
        # the title names the source first: "face clip.avi - Emotion Detector"
        geometry = wait_until(lambda: window_geometry(display, "face clip.avi - Emotion Detector"),
                              "viewable window", **app_waits)
        shot = subprocess.run(["xwd", "-root", "-silent", "-display", display],
                              capture_output=True, timeout=30, check=True).stdout
    finally:
        if app.proc.poll() is None:
            app.proc.send_signal(signal.SIGTERM)     # closes like the close button
        code = app.proc.wait(WAIT_S)
    screen = read_xwd(shot)
    cv2.imwrite(str(tmp_path / "screen.png"), screen)
    if os.environ.get("EMOTION_DETECTOR_SCREENSHOT"):
        cv2.imwrite(os.environ["EMOTION_DETECTOR_SCREENSHOT"], screen)

    assert screen.shape == (SCREEN[1], SCREEN[0], 3)
    wx, wy, ww, wh = geometry
    vx, vy, vw, vh = (int(v) for v in stats["view"].split(","))
    assert vw > 320 and vh > 240 and abs(vw / vh - 640 / 480) < 0.02
    assert vx + vw <= ww and vy + vh <= wh
    view = screen[wy + vy: wy + vy + vh, wx + vx: wx + vx + vw]
    cv2.imwrite(str(tmp_path / "view.png"), view)

    # The clip is on screen: one of its frames (regenerated exactly), scaled to the view.
    faces, spec = clip_recipe(CLIP_FRAMES)
    error, frame = min(((np.abs(view.astype(int) - small.astype(int)).mean(), small)
                        for small in (cv2.resize(f, (vw, vh), interpolation=cv2.INTER_AREA)
                                      for f, _ in synthetic.clip_frames(faces, spec))),
                       key=lambda pair: pair[0])
    assert error < 12, error
    # Where the screen differs from that frame, the app drew: a box, a label and a
    # bar, in the emotion colours, with the label's text. (A grey "neutral" box hardly
    # differs from the wall, so then mostly the text and the bar stand out.)
    drawn = np.abs(view.astype(int) - frame.astype(int)).max(axis=2) > 60
    cv2.imwrite(str(tmp_path / "drawn.png"), drawn.astype(np.uint8) * 255)
    colored = annotation_pixels(view[drawn][None], tol=30)
    inked = annotation_pixels(view[drawn][None], tol=30, palette=INK)
    assert drawn.sum() > 1000 and colored > 500, (drawn.sum(), colored)
    assert colored + inked > 0.6 * drawn.sum(), (drawn.sum(), colored, inked)
    ys, xs = np.nonzero(drawn)
    assert 0.1 * vw < xs.max() - xs.min() < 0.6 * vw      # about one face wide

    assert code == 0, app.log
    for bad in ("Traceback", "QThread: Destroyed", "Could not load the Qt platform plugin",
                "did not stop"):
        assert bad not in app.log, app.log
    assert "window shown" in app.log and "stopped in" in app.log
    # --record: the session, closed with the window, is complete and consistent
    sessions = list((tmp_path / "rec").glob("session_*"))
    assert len(sessions) == 1, app.log
    summary = json.loads((sessions[0] / "summary.json").read_text())
    recorded = video_frames(sessions[0] / "face clip_annotated.mp4")
    assert recorded == summary["frames"] >= 15 and summary["faces"] > 0
    rows = (sessions[0] / "detections.csv").read_text().strip().splitlines()[1:]
    assert len(rows) == summary["faces"]
    shown = re.search(r"window shown ([\d.]+) s after launch", app.log)
    print(f"window shown {shown.group(1)} s after launch; {stats}")
