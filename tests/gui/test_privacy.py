"""Privacy: a whole run of the app (model, video, faces, snapshot, another source,
the camera probe, closing) opens no network socket and resolves no host name."""

import socket
import sys

import pytest

from tests.gui_support import (
    WAIT_MS,
    open_window,
    wait_frames,
    wait_message,
    write_clip,
    write_image,
)

NETWORK_EVENTS = {"socket.__new__", "socket.connect", "socket.bind", "socket.sendto",
                  "socket.sendmsg", "socket.getaddrinfo", "socket.gethostbyname",
                  "socket.gethostbyaddr", "socket.getnameinfo", "urllib.Request",
                  "http.client.connect"}
_seen: list[tuple[str, str]] = []
_watching = [False]


def _audit(event, args):
    if _watching[0] and event in NETWORK_EVENTS:
        _seen.append((event, repr(args)[:200]))


@pytest.fixture
def network_watch(monkeypatch):
    """Records every socket opened or name looked up from Python code (audit hook),
    and makes connections fail loudly (so a hidden retry loop cannot succeed)."""
    if _audit not in getattr(sys, "_privacy_hooks", []):
        sys.addaudithook(_audit)   # hooks cannot be removed; it only records while watching
        # kept on sys, which outlives this module (a hook cannot be removed)
        sys._privacy_hooks = [_audit]  # type: ignore[attr-defined]

    def refuse(*args, **kwargs):
        _seen.append(("connect", repr(args)[:200]))
        raise OSError("network access during the privacy test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    _seen.clear()
    _watching[0] = True
    yield _seen
    _watching[0] = False


def test_the_watch_sees_a_socket(network_watch):
    """The test below can fail: a socket made here is seen."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    with pytest.raises(OSError):
        s.connect(("192.0.2.1", 80))
    s.close()
    assert [e for e, _ in network_watch] == ["socket.__new__", "connect"]


def test_a_run_opens_no_network_socket(qtbot, tmp_path, network_watch):
    clip = write_clip(tmp_path / "face.avi", frames=60)
    photo = write_image(tmp_path / "photo.png")
    win = open_window(qtbot, tmp_path)
    win.cameras.refresh()               # probes the real cameras, if any
    win.start_source(clip)
    wait_frames(qtbot, win, 5, faces=True)
    assert win.take_snapshot() is True
    qtbot.waitUntil(lambda: win.snapshots.last is not None, timeout=WAIT_MS)
    win.start_source(photo)
    wait_message(qtbot, win, "still image")
    win.close()
    assert network_watch == []
