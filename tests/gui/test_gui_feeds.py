"""The window's live feeds (offscreen unless QT_QPA_PLATFORM says otherwise): a
WebSocket client gets the JSON of every frame the processing thread reads while a
clip plays, OSC gets the same frames, a client that never reads holds nothing up,
the status bar says where the feed is and how many clients it has, a marker goes
out on both, and closing the window closes the feeds; `--serve` on a port in use
stops the app before its window opens; the app from the command line feeds a client
at the clip's rate."""

import os
import re
import subprocess
import sys
import threading

import pytest
from PyQt5.QtCore import QSettings
from websockets.sync.client import connect

from app.cli import main
from app.gui.engine import VideoEngine
from app.gui.settings import Settings
from app.gui.window import MainWindow
from app.io.feeds import QUEUE_SIZE, Feeds, face_json
from tests.conftest import REPO, wait_until
from tests.gui_support import WAIT_MS, wait_message, wait_model, write_clip
from tests.io.test_feeds import OscReceiver, Reader, _fill, feed_threads

CLIP_FRAMES = 150      # 5 s at 30 fps


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return write_clip(tmp_path_factory.mktemp("clips") / "feed face.avi",
                      frames=CLIP_FRAMES, fps=30.0)


@pytest.fixture
def osc():
    receiver = OscReceiver()
    yield receiver
    receiver.close()


def open_feed_window(qtbot, tmp_path, feeds):
    """A shown MainWindow whose engine sends to `feeds` (as run_app builds it)."""
    settings = Settings(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    engine = VideoEngine(feeds=feeds)
    window = MainWindow(engine, settings, snapshot_dir=tmp_path / "snapshots",
                        camera_lister=lambda: [])
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    return window


def test_a_client_gets_every_frame_the_window_reads(qtbot, tmp_path, clip, osc):
    feeds = Feeds.open(osc=f"127.0.0.1:{osc.port}", serve="127.0.0.1:0")
    server = feeds.server
    win = open_feed_window(qtbot, tmp_path, feeds)
    qtbot.waitUntil(lambda: f"feed {server.url} \u00b7 0 clients" in win.status.feed_label.text()
                    and f"OSC \u2192 127.0.0.1:{osc.port}" in win.status.feed_label.text(),
                    timeout=WAIT_MS)
    shown = []
    win.engine.resultReady.connect(lambda r: shown.append((r.number, r.detections)))

    with connect(server.url, max_queue=1) as stuck:       # connects and never reads
        stuck_port = stuck.socket.getsockname()[1]
        wait_until(lambda: server.clients == 1, what="the stuck client")
        before = _fill(server, stuck_port)
        reader = Reader(server.url)
        qtbot.waitUntil(lambda: "\u00b7 2 clients" in win.status.feed_label.text(),
                        timeout=WAIT_MS)
        published = server.published
        wait_model(qtbot, win)
        win.start_source(clip)
        wait_message(qtbot, win, "end of video")

        # every frame the processing thread read reached the reader, in order
        qtbot.waitUntil(lambda: len(reader.frames()) == server.published - published,
                        timeout=WAIT_MS)
        got = reader.frames()
        numbers = [m["frame"] for m in got]
        assert numbers == sorted(set(numbers)) and numbers[-1] == CLIP_FRAMES
        assert len(got) == feeds.frames >= 0.5 * CLIP_FRAMES
        assert all("missed" not in m for m in got)
        for m in got:
            assert m["source"] == clip.name
            assert m["time"] == pytest.approx((m["frame"] - 1) / 30.0, abs=1e-3)
        assert sum(len(m["faces"]) for m in got) >= 0.9 * len(got)
        # what the window showed is what was sent for those frames
        by_number = {m["frame"]: m["faces"] for m in got}
        assert len(shown) >= 10
        for seq, detections in shown:
            assert by_number[seq] == [face_json(d) for d in detections]
        # the clip's rate reached the client (the issue asks for at least 20 per s)
        times = [t for t, m in reader.messages if m["type"] == "frame"]
        rate = (len(times) - 1) / (times[-1] - times[0])
        print(f"\nWebSocket client: {len(times)} frames at {rate:.1f} messages/s")
        assert rate >= 20

        # the stuck client held nothing up: its queue stayed at its bound
        stats = {s["peer"]: s for s in server.client_stats()}[stuck_port]
        assert stats["queued"] == stats["most"] == QUEUE_SIZE
        assert stats["dropped"] == before["dropped"] + len(got)

        # OSC: the same frames, and their faces
        wait_until(lambda: len(osc.of("/emotion/frame")) == len(got), what="OSC frames")
        assert [args[1] for args in osc.of("/emotion/frame")] == numbers
        faces = sum(len(f) for f in by_number.values())
        wait_until(lambda: len(osc.of("/emotion/face")) == faces, what="OSC faces")

        # a marker added in the window goes out on both, at the frame shown
        marker = win.markers.add(3).to_dict()
        qtbot.waitUntil(lambda: any(m["type"] == "marker" for _, m in reader.messages),
                        timeout=WAIT_MS)
        assert [m for _, m in reader.messages if m["type"] == "marker"] == [
            {"type": "marker", "time": marker["time_s"], "frame": marker["frame"],
             "number": 3, "text": ""}]
        assert marker["frame"] == CLIP_FRAMES
        wait_until(lambda: len(osc.of("/emotion/marker")) == 1, what="the OSC marker")
        t, frame, number, text = osc.of("/emotion/marker")[0]
        assert (frame, number, text) == (CLIP_FRAMES, 3, "")
        assert t == pytest.approx(marker["time_s"], abs=1e-3)

        win.close()                           # closes the feeds: the clients are let go
        qtbot.waitUntil(lambda: not reader.thread.is_alive(), timeout=WAIT_MS)
        assert not feed_threads()
        assert reader.error is None


def test_without_feeds_the_window_has_none(qtbot, tmp_path):
    win = open_feed_window(qtbot, tmp_path, None)
    assert win.engine.feed_status() == "" and win.status.feed_label.text() == ""


def test_serve_on_a_port_in_use_stops_the_app_before_its_window(caplog):
    import socket

    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    try:
        assert main(["--source", "0", "--serve", f"127.0.0.1:{port}"]) == 2
    finally:
        taken.close()
    assert f"--serve 127.0.0.1:{port}: cannot start the WebSocket feed: the port is in use" \
        in caplog.text
    assert not feed_threads()


def test_the_app_feeds_a_client_at_the_clips_rate(tmp_path, clip):
    """`python main.py --source CLIP --serve 127.0.0.1:0` in a fresh interpreter: a
    client gets the frames as the window plays them, until the window closes."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen",
           "EMOTION_DETECTOR_SETTINGS": str(tmp_path / "s.ini")}
    app = subprocess.Popen([sys.executable, "main.py", "--source", str(clip), "--snapshots",
                            str(tmp_path), "--serve", "127.0.0.1:0", "--exit-after", "9"],
                           cwd=REPO, env=env, stderr=subprocess.PIPE, text=True)
    lines = []
    try:
        for line in app.stderr:
            lines.append(line)
            found = re.search(r"WebSocket feed on (ws://127\.0\.0\.1:\d+)", line)
            if found:
                break
        assert found, "".join(lines)
        reader = Reader(found.group(1))
        rest = threading.Thread(target=lambda: lines.extend(app.stderr or ()), daemon=True)
        rest.start()
        assert app.wait(60) == 0, "".join(lines)
        rest.join(10)
    finally:
        if app.poll() is None:
            app.kill()
    reader.thread.join(WAIT_MS / 1000)
    assert not reader.thread.is_alive()          # the app closed the connection
    frames = reader.frames()
    assert len(frames) >= 0.5 * CLIP_FRAMES, "".join(lines)
    times = [t for t, m in reader.messages if m["type"] == "frame"]
    rate = (len(times) - 1) / (times[-1] - times[0])
    print(f"\nthe app's feed: {len(frames)} frames at {rate:.1f} messages/s")
    assert rate >= 20
    assert sum(1 for m in frames if m["faces"]) >= 0.8 * len(frames)
    assert "client connected" in "".join(lines)
