"""The readings, live, to other programs: OSC over UDP (`--osc`) and a WebSocket
feed of JSON (`--serve`), for the window and `process`.

    Feeds: what the frame loops call: `frame(...)` after each frame's detections
           (the processing thread, never the GUI thread), `marker(...)` when the
           user adds a marker; `close()` at the end
    OscSender: one OSC message per face and one per frame (and per marker), sent
           with python-osc's SimpleUDPClient on a non-blocking UDP socket
    FeedServer: a WebSocket server (`websockets`) in its own daemon thread with
           its own asyncio loop; `publish` hands a message over without blocking

OSC, over UDP to HOST:PORT, in this order for each frame:

    /emotion/frame   time frame faces
    /emotion/face    time track label confidence angry disgust fear happy sad
                     surprise neutral x y w h valence          (one per face)
    /emotion/marker  time frame number text                    (when one is added)

`time` is the source's time in seconds (a video's position; a camera's seconds
since it started; -1 for a separate photo, which has none), `frame` the frame
number (the first is 1, as the window shows them); the probabilities follow
EMOTIONS' order; the box is in the frame's pixels; valence is
model.runtime.emotions.valence of the probabilities (0 for a face read by no emotion
model: label "face", probabilities 0).
"""

import logging
from collections.abc import Sequence

from app.io.feed_messages import (
    NO_TIME,
    Address,
    encode,
    frame_message,
    marker_message,
    parse_address,
)
from app.io.feed_messages import face_json as face_json  # what a face looks like in them
from app.io.websocket_feed import QUEUE_SIZE as QUEUE_SIZE  # the server's per-client bound
from app.io.websocket_feed import FeedServer
from app.nouns import Detection, Marker
from model.runtime.emotions import EMOTIONS, valence
from model.runtime.errors import UserError

log = logging.getLogger(__name__)

OSC_FACE = "/emotion/face"
OSC_FRAME = "/emotion/frame"
OSC_MARKER = "/emotion/marker"


# ----------------------------------------------------------------------- OSC

class OscSender:
    """OSC messages over UDP to `address` (python-osc). A send never blocks (the
    socket is non-blocking; a datagram the system cannot take now is dropped) and
    never raises: failures are counted, and the first one logged."""

    def __init__(self, address: Address) -> None:
        from pythonosc.udp_client import SimpleUDPClient

        self.address = address
        try:
            self._client = SimpleUDPClient(address.host, address.port)
        except OSError as exc:   # socket.gaierror: a host name that does not resolve
            raise UserError(f"--osc {address}: cannot send there ({exc})") from None
        self.failed = 0
        self._closed = False

    def _send(self, path: str, args: list[float | int | str]) -> None:
        if self._closed:
            return
        try:
            self._client.send_message(path, args)
        except OSError as exc:   # BlockingIOError (buffer full), unreachable, ...
            self.failed += 1
            if self.failed == 1:
                log.warning("OSC to %s: a message was not sent (%s); later failures are "
                            "counted, not logged", self.address, exc)

    def frame(self, time: float | None, number: int, detections: Sequence[Detection]) -> None:
        t = NO_TIME if time is None else float(time)
        self._send(OSC_FRAME, [t, int(number), len(detections)])
        for det in detections:
            x, y, w, h = (int(v) for v in det.box)
            probabilities = [float(p) for p in det.probabilities] or [0.0] * len(EMOTIONS)
            self._send(OSC_FACE, [t, int(det.track_id), str(det.label),
                                  float(det.confidence), *probabilities, x, y, w, h,
                                  float(valence(probabilities))])

    def marker(self, marker: Marker) -> None:
        self._send(OSC_MARKER, [NO_TIME if marker.time is None else float(marker.time),
                                -1 if marker.frame is None else int(marker.frame),
                                int(marker.number), str(marker.text)])

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._client.close()


# --------------------------------------------------------------------- Feeds

class Feeds:
    """The feeds asked for (OSC, WebSocket, either or both), for a frame loop.

    `frame` and `marker` never raise and never wait: a feed's failure must not stop
    the pipeline or the window."""

    def __init__(self, osc: OscSender | None = None,
                 server: FeedServer | None = None) -> None:
        self.osc = osc
        self.server = server
        self.frames = 0          # frames handed to the feeds
        self._failed = False

    @classmethod
    def open(cls, osc: str | None = None, serve: str | None = None) -> "Feeds | None":
        """Start what is asked (`--osc HOST:PORT`, `--serve [HOST:]PORT`); None when
        neither is. A bad address or a port in use is a UserError."""
        if not osc and not serve:
            return None
        osc_address = parse_address(osc, "--osc", default_host=None) if osc else None
        serve_address = parse_address(serve, "--serve", allow_any_port=True) if serve \
            else None
        sender = OscSender(osc_address) if osc_address else None
        server = None
        if serve_address is not None:
            try:
                server = FeedServer(serve_address).start()
            except BaseException:
                if sender is not None:
                    sender.close()
                raise
        feeds = cls(sender, server)
        if sender is not None:
            log.info("sending the readings as OSC to %s (%s, %s)", osc_address,
                     OSC_FRAME, OSC_FACE)
        if server is not None:
            log.info("WebSocket feed on %s", server.url)
        return feeds

    def frame(self, time: float | None, number: int, source: str,
              detections: Sequence[Detection]) -> None:
        """One processed frame: `time` in the source (s; None: a separate photo),
        `number` (1 for the first), the source's name, its detections."""
        self.frames += 1
        try:
            if self.osc is not None:
                self.osc.frame(time, number, detections)
            if self.server is not None and self.server.clients:
                self.server.publish(encode(frame_message(time, number, source, detections)))
        except Exception:  # noqa: BLE001
            self._log_failure()

    def marker(self, marker: Marker) -> None:
        """A marker the user added (app.nouns.Marker: its time in the source, the
        source's frame it was added on, its number 1..9 or 0, its text)."""
        try:
            if self.osc is not None:
                self.osc.marker(marker)
            if self.server is not None:
                self.server.publish(encode(marker_message(marker)))
        except Exception:  # noqa: BLE001
            self._log_failure()

    def _log_failure(self) -> None:
        if not self._failed:
            self._failed = True
            log.exception("sending the readings failed (further failures not logged)")

    def status(self) -> str:
        """One line for the status bar: where the readings go."""
        parts = []
        if self.osc is not None:
            parts.append(f"OSC \u2192 {self.osc.address}")
        if self.server is not None and self.server.address is not None:
            n = self.server.clients
            parts.append(f"feed {self.server.url} \u00b7 {n} client{'s' if n != 1 else ''}")
        return " \u00b7 ".join(parts)

    def close(self) -> None:
        """Stop sending; close the server's connections and its thread."""
        if self.osc is not None:
            self.osc.close()
        if self.server is not None:
            self.server.close()
