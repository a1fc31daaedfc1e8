"""What the live feeds send and where: addresses (`--osc HOST:PORT`, `--serve
[HOST:]PORT`) and the messages, built once per frame and sent as they are by OSC and
the WebSocket feed."""

import ipaddress
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal, TypedDict

from app.nouns import Detection, FaceJSON, Marker
from model.runtime.errors import UserError

NO_TIME = -1.0              # OSC's time of a frame that has none (a separate photo)
LOOPBACK = "127.0.0.1"


# ------------------------------------------------------------------ addresses

@dataclass(frozen=True)
class Address:
    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def parse_address(text: object, option: str, default_host: str | None = LOOPBACK,
                  allow_any_port: bool = False) -> Address:
    """'HOST:PORT', '[IPv6]:PORT' or (with `default_host`) 'PORT' -> Address; a
    UserError naming `option` otherwise. Port 0 (any free port) only if allowed."""
    text = str(text).strip()
    form = "[HOST:]PORT" if default_host else "HOST:PORT"
    host, sep, port = text.rpartition(":")
    if not sep:
        host = default_host or ""
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        host = ""   # a bare IPv6 address is ambiguous: it needs brackets
    lowest = 0 if allow_any_port else 1
    if not host or not (port.isascii() and port.isdigit()) or not lowest <= int(port) <= 65535:
        raise UserError(f"{option} {text!r}: expected {form}, such as "
                        f"{LOOPBACK}:{9000 if option == '--osc' else 8765} "
                        f"(a port from {lowest} to 65535)")
    return Address(host, int(port))


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# ----------------------------------------------------------------- messages

# The JSON objects the feeds send (their keys are the wire format).
class FrameMessage(TypedDict):
    type: Literal["frame"]
    time: float | None
    frame: int
    source: str
    faces: list[FaceJSON]


class MarkerMessage(TypedDict):
    type: Literal["marker"]
    time: float | None
    frame: int | None
    number: int
    text: str


def face_json(det: Detection) -> FaceJSON:
    """A face as in the snapshot JSON (with its valence: None without an emotion model)."""
    return det.to_dict()


def frame_message(time: float | None, number: int, source: str,
                  detections: Iterable[Detection]) -> FrameMessage:
    return {"type": "frame", "time": None if time is None else round(float(time), 3),
            "frame": int(number), "source": str(source),
            "faces": [face_json(d) for d in detections]}


def marker_message(marker: Marker) -> MarkerMessage:
    """An app.nouns.Marker as the WebSocket feed sends it."""
    time, frame = marker.time, marker.frame
    return {"type": "marker", "time": None if time is None else round(float(time), 3),
            "frame": None if frame is None else int(frame), "number": int(marker.number),
            "text": str(marker.text)}


def encode(message: Mapping[str, object]) -> bytes:
    return json.dumps(message, separators=(",", ":")).encode()


def with_missed(data: bytes, missed: int) -> bytes:
    """The same JSON object with "missed": N as its first field."""
    return b'{"missed":%d,%s' % (missed, data[1:])
