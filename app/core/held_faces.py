"""Faces held briefly after they are lost: a face missed for a frame or two (a blink,
a turn of the head, motion blur) keeps its box and label instead of flickering away."""

from collections.abc import Iterable, Sequence
from dataclasses import replace

from app.core.track import Track
from app.nouns import Box, Detection


def held_faces(tracks: Iterable[Track], pairs: Sequence[tuple[Track, Box]], t: float,
               hold: float, shape: tuple[int, ...]) -> list[Detection]:
    """The faces of `tracks` not in this frame's (track, box) `pairs` and lost for at
    most `hold` s at time `t`: their last reading, box moved on and kept at least half
    inside a frame of `shape`, marked held. Only confirmed faces are held."""
    if hold <= 0:
        return []
    seen = {tr.id for tr, _ in pairs}
    out = []
    for tr in tracks:
        last = tr.shown
        if tr.id in seen or last is None or not tr.confirmed \
                or not 0 < t - tr.last_seen <= hold:
            continue
        x, y, w, h = tr.predicted(t)
        x = min(max(x, -w // 2), shape[1] - w // 2)
        y = min(max(y, -h // 2), shape[0] - h // 2)
        out.append(replace(last, box=(x, y, w, h), held=True))
    return out
