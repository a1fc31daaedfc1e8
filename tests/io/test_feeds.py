"""The live feeds (app.io.feeds) with real clients on loopback and ephemeral ports: OSC
from `process` to a python-osc server, the WebSocket feed to `websockets` clients
(every frame, a client that never reads, one that leaves mid-stream, twenty at
once), markers, and the errors a user can make (a bad address, a port in use)."""

import json
import logging
import socket
import threading
import time
from typing import Any

import pytest
from pythonosc.dispatcher import Dispatcher
from pythonosc.osc_server import ThreadingOSCUDPServer
from websockets.sync.client import connect
from websockets.typing import Origin

from app.cli import main
from app.commands.options import ProcessOptions
from app.commands.process import process_input
from app.io.feed_messages import Address, parse_address
from app.io.feeds import Feeds
from app.io.websocket_feed import QUEUE_SIZE, FeedServer
from app.nouns import Marker
from model import EMOTIONS
from model.runtime.emotions import valence
from model.runtime.errors import UserError
from tests.conftest import read_csv, wait_until

WAIT = 30.0   # s: generous for a busy machine; a hang still fails


class OscReceiver:
    """A python-osc server on an ephemeral loopback port, keeping every message."""

    def __init__(self):
        self.messages: list[tuple[object, ...]] = []
        dispatcher = Dispatcher()
        dispatcher.set_default_handler(lambda address, *args:
                                       self.messages.append((address, args)))
        self.server = ThreadingOSCUDPServer(("127.0.0.1", 0), dispatcher)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def of(self, address):
        return [args for a, args in list(self.messages) if a == address]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def osc():
    receiver = OscReceiver()
    yield receiver
    receiver.close()


class Reader:
    """A `websockets` client in a thread that reads and keeps every message."""

    def __init__(self, url, **options):
        self.url = url
        self.messages = []            # (received at, parsed JSON)
        self.local = None
        self.ws = None
        self.error = None
        self._ready = threading.Event()
        self.thread = threading.Thread(target=self._run, kwargs=options, daemon=True)
        self.thread.start()
        assert self._ready.wait(WAIT), "the client did not connect"
        assert self.error is None, self.error

    def _run(self, **options):
        try:
            with connect(self.url, open_timeout=WAIT, **options) as ws:
                self.ws, self.local = ws, ws.socket.getsockname()
                self._ready.set()
                for message in ws:
                    self.messages.append((time.monotonic(), json.loads(message)))
        except Exception as exc:  # noqa: BLE001 - kept for the test to see
            self.error = exc
        finally:
            self._ready.set()

    def frames(self):
        return [m for _, m in list(self.messages) if m["type"] == "frame"]

    def close(self):
        self.ws.close()
        self.thread.join(WAIT)


def feed_threads():
    return [t for t in threading.enumerate() if t.name == "feed-server" and t.is_alive()]


# ------------------------------------------------------------------ addresses

@pytest.mark.parametrize("text, option, expected", [
    ("127.0.0.1:9000", "--osc", Address("127.0.0.1", 9000)),
    ("localhost:57120", "--osc", Address("localhost", 57120)),
    ("[::1]:9000", "--osc", Address("::1", 9000)),
    ("8765", "--serve", Address("127.0.0.1", 8765)),
    ("0.0.0.0:8765", "--serve", Address("0.0.0.0", 8765)),
])
def test_addresses_are_read(text, option, expected):
    assert parse_address(text, option) == expected


@pytest.mark.parametrize("text", ["", "host", "host:", "host:port", ":9000", "h:0",
                                  "h:70000", "::1:9000", "h:-1"])
def test_a_bad_address_is_one_clear_error(text):
    with pytest.raises(UserError) as err:
        parse_address(text, "--osc", default_host=None)
    message = str(err.value)
    assert message.startswith(f"--osc {text.strip()!r}: expected HOST:PORT")
    assert "\n" not in message


def test_a_bad_address_on_the_command_line_fails_with_one_line(clip, tmp_path, caplog):
    out = tmp_path / "out"
    with caplog.at_level(logging.ERROR):
        assert main(["process", str(clip), "-o", str(out), "--no-progress",
                     "--osc", "nowhere"]) == 2
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == ["--osc 'nowhere': expected HOST:PORT, such as 127.0.0.1:9000 "
                      "(a port from 1 to 65535)"]
    assert not out.exists()                     # failed before anything was read


def test_a_port_in_use_fails_with_one_line(clip, tmp_path, caplog):
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    try:
        with caplog.at_level(logging.ERROR):
            assert main(["process", str(clip), "-o", str(tmp_path / "out"), "--no-progress",
                         "--serve", f"127.0.0.1:{port}"]) == 2
        errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
        assert errors == [f"--serve 127.0.0.1:{port}: cannot start the WebSocket feed: the "
                          "port is in use (choose another)"]
        with pytest.raises(UserError, match="port is in use"):
            Feeds.open(serve=f"127.0.0.1:{port}")
    finally:
        taken.close()
    assert not feed_threads()                   # the failed server left no thread


def test_a_batch_refuses_the_live_feeds(clip, tmp_path, caplog):
    with caplog.at_level(logging.ERROR):
        assert main(["process", str(clip), str(clip), "-o", str(tmp_path / "o"),
                     "--serve", "0"]) == 2
    assert "give process one video" in caplog.text


def test_serving_beyond_loopback_warns(caplog):
    with caplog.at_level(logging.WARNING):
        feeds = Feeds.open(serve="0.0.0.0:0")
    try:
        assert "others on the network can read it" in caplog.text
    finally:
        feeds.close()
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        feeds = Feeds.open(serve="127.0.0.1:0")
    feeds.close()
    assert "others on the network" not in caplog.text


# ------------------------------------------------------------------------ OSC

def test_process_sends_osc_for_every_face_and_frame(clip, tmp_path, osc):
    out = tmp_path / "out"
    assert main(["process", str(clip), "-o", str(out), "--no-progress", "--no-video",
                 "--osc", f"127.0.0.1:{osc.port}", "--serve", "127.0.0.1:0"]) == 0
    assert not feed_threads()                   # the feed closed at the end
    rows = read_csv(out / "detections.csv")
    assert len(rows) >= 40
    wait_until(lambda: len(osc.of("/emotion/face")) >= 0.95 * len(rows) and
               len(osc.of("/emotion/frame")) >= 0.95 * 45, what="the OSC messages")

    frames = osc.of("/emotion/frame")
    for t, number, _faces in frames:
        assert isinstance(number, int) and 1 <= number <= 45
        assert t == pytest.approx((number - 1) / 30.0, abs=1e-4)
    by_number = {number: faces for _, number, faces in frames}
    faces_per_frame: dict[int, int] = {}
    for r in rows:
        faces_per_frame[int(r["frame"]) + 1] = faces_per_frame.get(int(r["frame"]) + 1, 0) + 1
    for number, faces in by_number.items():
        assert faces == faces_per_frame.get(number, 0)

    by_key = {(round(float(r["time"]), 3), int(r["track"])): r for r in rows}
    faces = osc.of("/emotion/face")
    for args in faces:
        assert len(args) == 4 + len(EMOTIONS) + 4 + 1
        t, track, label, confidence = args[:4]
        probabilities = args[4:11]
        box, v = args[11:15], args[15]
        row = by_key[(round(t, 3), track)]            # the same face as the CSV's row
        assert label == row["label"] and label in EMOTIONS
        assert confidence == pytest.approx(float(row["confidence"]), abs=1e-4)
        assert probabilities == pytest.approx([float(row[e]) for e in EMOTIONS], abs=1e-4)
        assert list(box) == [int(row[k]) for k in "xywh"]
        assert all(isinstance(b, int) for b in box)
        assert v == pytest.approx(valence(probabilities), abs=1e-5)
        assert -1 <= v <= 1


def test_markers_go_out_over_osc_and_the_feed(osc):
    feeds = Feeds.open(osc=f"127.0.0.1:{osc.port}", serve="127.0.0.1:0")
    try:
        reader = Reader(feeds.server.url)
        wait_until(lambda: feeds.server.clients == 1, what="the client")
        feeds.marker(Marker(12.5, 376, 3, "laughs"))
        feeds.marker(Marker(None, None, 1, ""))
        wait_until(lambda: len(osc.of("/emotion/marker")) == 2 and len(reader.messages) == 2,
                   what="the markers")
        assert osc.of("/emotion/marker") == [(12.5, 376, 3, "laughs"), (-1.0, -1, 1, "")]
        assert [m for _, m in reader.messages] == [
            {"type": "marker", "time": 12.5, "frame": 376, "number": 3, "text": "laughs"},
            {"type": "marker", "time": None, "frame": None, "number": 1, "text": ""}]
        reader.close()
    finally:
        feeds.close()


# ----------------------------------------------------------- the WebSocket feed

def _fill(server, stuck_port, timeout=WAIT):
    """Publish big messages until the client on `stuck_port` has a full queue (its
    socket buffers are full: it reads nothing)."""
    filler = json.dumps({"type": "filler", "pad": "x" * 60000}).encode()
    end = time.monotonic() + timeout
    while True:
        stats = {s["peer"]: s for s in server.client_stats()}
        if stats[stuck_port]["queued"] == server.queue_size:
            server.flush()                         # no filler still on its way
            return {s["peer"]: s for s in server.client_stats()}[stuck_port]
        assert time.monotonic() < end, "the stuck client's queue never filled"
        server.publish(filler)
        time.sleep(0.002)


def test_process_feeds_every_frame_and_a_stuck_client_holds_nothing_up(clip, tmp_path):
    feeds = Feeds.open(serve="127.0.0.1:0")
    server = feeds.server
    try:
        with connect(server.url, max_queue=1) as stuck:     # connects, never reads
            stuck_port = stuck.socket.getsockname()[1]
            wait_until(lambda: server.clients == 1, what="the stuck client")
            before = _fill(server, stuck_port)
            reader = Reader(server.url)
            wait_until(lambda: server.clients == 2, what="the reader")

            done: dict[str, object] = {}
            worker = threading.Thread(target=lambda: done.setdefault(
                "result", process_input(clip, tmp_path / "out",
                                        ProcessOptions(show_progress=False), feeds=feeds)))
            worker.start()
            worker.join(120)
            assert not worker.is_alive(), "process was held up"
            assert done["result"]["stopped"] is None

            # the reader got every frame, in order, as detections.csv has them
            wait_until(lambda: len(reader.frames()) == 45, what="every frame")
            got = reader.frames()
            assert [m["frame"] for m in got] == list(range(1, 46))
            assert all("missed" not in m for m in got)
            rows = read_csv(tmp_path / "out" / "detections.csv")
            sent = [(m["frame"] - 1, f["track"], f["label"], f["confidence"], f["box"])
                    for m in got for f in m["faces"]]
            assert sent == [(int(r["frame"]), int(r["track"]), r["label"],
                             float(r["confidence"]), {k: int(r[k]) for k in "xywh"})
                            for r in rows]
            for m in got:
                assert m["source"] == clip.name
                assert m["time"] == pytest.approx((m["frame"] - 1) / 30.0, abs=1e-3)
                for face in m["faces"]:
                    assert set(face) >= {"box", "track", "label", "confidence",
                                         "probabilities", "valence", "held"}
                    assert list(face["probabilities"]) == list(EMOTIONS)
                    assert face["valence"] == pytest.approx(
                        valence(face["probabilities"].values()), abs=2e-4)

            # the stuck client's queue stayed at its bound: each frame pushed one out
            stats = {s["peer"]: s for s in server.client_stats()}[stuck_port]
            assert stats["queued"] == stats["most"] == QUEUE_SIZE
            assert stats["dropped"] == before["dropped"] + 45
            # once it reads again, it is told how many it missed
            missed = None
            end = time.monotonic() + WAIT
            while missed is None and time.monotonic() < end:
                message = json.loads(stuck.recv(timeout=WAIT))
                missed = message.get("missed")
            assert missed is not None and missed >= 45
            assert message["type"] == "frame"
        reader.close()
    finally:
        feeds.close()
    assert not feed_threads()


def test_twenty_clients_at_once_get_every_message():
    server = FeedServer(Address("127.0.0.1", 0)).start()
    try:
        readers = [Reader(server.url) for _ in range(20)]
        wait_until(lambda: server.clients == 20, what="twenty clients")
        for i in range(100):
            server.publish(json.dumps({"type": "frame", "frame": i + 1}).encode())
            time.sleep(0.005)              # a 200 frames/s pipeline
        wait_until(lambda: all(len(r.messages) == 100 for r in readers), what="every message")
        for r in readers:
            assert [m["frame"] for _, m in r.messages] == list(range(1, 101))
            assert all("missed" not in m for _, m in r.messages)
        assert all(s["queued"] == 0 for s in server.client_stats())
        for r in readers:
            r.close()
        wait_until(lambda: server.clients == 0, what="the clients to leave")
    finally:
        server.close()


def test_a_client_leaving_mid_stream_is_dropped_and_the_others_go_on():
    server = FeedServer(Address("127.0.0.1", 0)).start()
    try:
        stays, polite = Reader(server.url), Reader(server.url)
        with connect(server.url) as rude:          # will vanish without a goodbye
            wait_until(lambda: server.clients == 3, what="three clients")
            for i in range(1, 201):
                server.publish(json.dumps({"type": "frame", "frame": i}).encode())
                if i == 50:
                    rude.socket.shutdown(socket.SHUT_RDWR)    # the TCP connection goes
                    rude.socket.close()
                if i == 100:
                    polite.close()                 # a clean closing handshake
                time.sleep(0.002)
            wait_until(lambda: server.clients == 1, what="the two to be dropped")
        wait_until(lambda: len(stays.messages) == 200, what="every message")
        assert [m["frame"] for _, m in stays.messages] == list(range(1, 201))
        assert 1 <= len(polite.messages) <= 100
        stays.close()
        wait_until(lambda: server.clients == 0, what="the last client to leave")
    finally:
        server.close()
    assert server.clients == 0


def test_the_hand_over_is_bounded_when_the_loop_lags():
    """publish never queues more than QUEUE_SIZE messages for the server's thread,
    however fast it is called; a client is told what it missed."""
    server = FeedServer(Address("127.0.0.1", 0)).start()
    try:
        reader = Reader(server.url)
        wait_until(lambda: server.clients == 1, what="the client")
        blocked, release = threading.Event(), threading.Event()

        def hold_the_loop():
            blocked.set()
            release.wait(WAIT)

        server._loop.call_soon_threadsafe(hold_the_loop)
        assert blocked.wait(WAIT)
        for i in range(1, 1001):
            server.publish(json.dumps({"type": "frame", "frame": i}).encode())
        assert len(server._pending) == QUEUE_SIZE
        release.set()
        wait_until(lambda: len(reader.messages) == QUEUE_SIZE, what="the newest messages")
        got = [m for _, m in reader.messages]
        assert [m["frame"] for m in got] == list(range(1001 - QUEUE_SIZE, 1001))
        assert got[0]["missed"] == 1000 - QUEUE_SIZE
        assert all("missed" not in m for m in got[1:])
        reader.close()
    finally:
        server.close()


def test_a_feed_that_fails_never_stops_the_frames(caplog):
    class Broken:
        box = (0, 0, 1, 1)

        def to_dict(self):
            raise RuntimeError("broken face")

    feeds = Feeds.open(serve="127.0.0.1:0")
    try:
        reader = Reader(feeds.server.url)
        wait_until(lambda: feeds.server.clients == 1, what="the client")
        with caplog.at_level(logging.ERROR):
            broken: list[Any] = [Broken()]   # not a Detection, on purpose
            feeds.frame(0.0, 1, "clip", broken)              # logged, not raised
            feeds.frame(0.0, 2, "clip", broken)
        assert caplog.text.count("sending the readings failed") == 1
        feeds.frame(0.1, 3, "clip", [])
        wait_until(lambda: len(reader.messages) == 1, what="the next frame")
        assert reader.messages[0][1] == {"type": "frame", "time": 0.1, "frame": 3,
                                         "source": "clip", "faces": []}
        reader.close()
    finally:
        feeds.close()


def test_only_programs_and_pages_from_this_computer_may_read_the_feed():
    """A browser lets any web site open a WebSocket to 127.0.0.1: the feed refuses
    pages from elsewhere (their Origin), so a site visited cannot read the faces."""
    from websockets.exceptions import InvalidStatus

    server = FeedServer(Address("127.0.0.1", 0)).start()
    try:
        for origin in map(Origin, ("https://example.com", "http://localhost.example.com",
                                   "http://127.0.0.1.example.com:8000")):
            with pytest.raises(InvalidStatus) as refused:
                connect(server.url, origin=origin, open_timeout=WAIT)
            assert refused.value.response.status_code == 403
        for allowed in (None, *map(Origin, ("null", "http://localhost:8000",
                                            "http://127.0.0.1:5500", "http://[::1]:8080"))):
            with connect(server.url, origin=allowed, open_timeout=WAIT) as ws:
                wait_until(lambda: server.clients == 1, what=f"{allowed} to be let in")
                server.publish(b'{"type":"frame","frame":1}')
                assert json.loads(ws.recv(timeout=WAIT)) == {"type": "frame", "frame": 1}
            wait_until(lambda: server.clients == 0, what=f"{allowed} to leave")
    finally:
        server.close()


# ------------------------------------------------- the documented readers

def readme_snippets() -> list[str]:
    """The Python code blocks of docs/usage.md's "Sending the readings to other programs"."""
    import re

    from tests.conftest import REPO

    text = (REPO / "docs" / "usage.md").read_text(encoding="utf-8")
    start = text.index("## Sending the readings to other programs")
    section = text[start:text.index("\n## ", start + 1)]
    return re.findall(r"```python\n(.*?)```", section, re.S)


def test_the_documented_readers_print_what_the_feeds_send(tmp_path):
    """The usage page's OSC receiver and WebSocket reader, as written (but for the port),
    each five lines, print the faces sent."""
    import subprocess
    import sys

    from app.nouns import Detection

    receiver, reader = readme_snippets()
    assert len([line for line in receiver.splitlines() if line.strip()]) == 5
    assert len([line for line in reader.splitlines() if line.strip()]) == 5
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.bind(("127.0.0.1", 0))
    osc_port = probe.getsockname()[1]
    probe.close()
    feeds = Feeds.open(osc=f"127.0.0.1:{osc_port}", serve="127.0.0.1:0")
    assert '("127.0.0.1", 9000)' in receiver and '"ws://127.0.0.1:8765"' in reader
    receiver = receiver.replace("9000", str(osc_port))
    reader = reader.replace("ws://127.0.0.1:8765", feeds.server.url)
    face = Detection(box=(10, 20, 30, 40), label="happy", confidence=0.7,
                     probabilities=(0.05, 0.0, 0.05, 0.7, 0.1, 0.05, 0.05), track_id=3)
    runs = [subprocess.Popen([sys.executable, "-u", "-c", code], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
            for code in (receiver, reader)]
    try:
        wait_until(lambda: feeds.server.clients == 1, what="the documented reader")
        # the UDP receiver is ready once it gets something: send until it prints
        lines = []
        printer = threading.Thread(target=lambda: lines.append(runs[0].stdout.readline()),
                                   daemon=True)
        printer.start()
        while printer.is_alive():
            feeds.frame(1.5, 46, "clip.mp4", [face])
            printer.join(0.05)
            assert all(r.poll() is None for r in runs), runs[0].stderr.read()
        t, track, label, confidence, v = lines[0].split()      # OSC floats are 32-bit
        assert (float(t), track, label) == (1.5, "3", "happy")
        assert (float(confidence), float(v)) == pytest.approx((0.7, 0.6))
        assert runs[1].stdout.readline().strip().split(maxsplit=2) == ["frame", "1.5",
                                                               "[('happy', 0.6)]"]
    finally:
        for run in runs:
            run.kill()
            run.wait()
        feeds.close()
