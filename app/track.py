"""Keep each face's identity from frame to frame and smooth its emotion over time.

Tracking is greedy box matching (overlap first, then centre distance for fast
moves); the pipeline mostly hands over faces already found near their own last
box. Smoothing is an exponential moving average of the probabilities whose time
constant is in seconds, so it behaves the same at 10 or 60 frames per second,
plus hysteresis: the label only changes when another emotion leads the current
one by a margin, or has led it for half a second. With tau = 0.25 s and a 0.1
margin a clean change of expression shows after about 0.85 tau = 0.2 s.
"""

import itertools
import math
from dataclasses import dataclass

import numpy as np


# A track is a face for sure once found in this many frames in a row: a false box
# (a lamp in dim light) comes and goes, a face stays. Only confirmed faces are
# held through a miss or searched for tilted.
CONFIRM_STREAK = 3


class ProbabilitySmoother:
    """EMA of probability vectors over time, with label hysteresis.

    The label moves to another emotion at once when that one leads the current
    label by more than `hysteresis`, or when it has led at all for `hold`
    seconds on end - so a wrong first label cannot stick on a near tie.
    """

    def __init__(self, tau: float = 0.25, hysteresis: float = 0.1, hold: float = 0.5):
        self.tau = tau
        self.hysteresis = hysteresis
        self.hold = hold
        self.reset()

    def reset(self):
        self.mean: np.ndarray | None = None
        self.label: int | None = None
        self._t: float | None = None
        self._leader: int | None = None     # who leads the label now, and since when
        self._leading_since = 0.0

    def update(self, probs, t: float) -> tuple[np.ndarray, int]:
        """Add one frame's probabilities at time `t` (s); returns (smoothed, label index)."""
        p = np.asarray(probs, dtype=np.float64)
        if self.mean is None or self._t is None:
            self.mean = p.copy()
        else:
            dt = max(0.0, t - self._t)
            alpha = 1.0 - math.exp(-dt / self.tau) if self.tau > 0 else 1.0
            self.mean += alpha * (p - self.mean)
        self._t = t
        best = int(np.argmax(self.mean))
        if self.label is None:
            self.label = best
        if best == self.label:
            self._leader = None
        else:
            if best != self._leader:
                self._leader, self._leading_since = best, t
            lead = self.mean[best] - self.mean[self.label]
            if lead > self.hysteresis or t - self._leading_since >= self.hold:
                self.label, self._leader = best, None
        return self.mean.astype(np.float32), self.label


@dataclass
class Track:
    id: int
    box: tuple
    last_seen: float
    smoother: ProbabilitySmoother
    missed: int = 0          # frames in a row without a detection
    streak: int = 0          # frames in a row it was found in, up to now
    confirmed: bool = False  # found CONFIRM_STREAK frames in a row at least once
    velocity: tuple = (0.0, 0.0)   # of the box centre, pixels per second
    angle: float = 0.0       # head tilt (degrees) at which it was last found
    shown: object = None     # the last Detection drawn for it (what a hold repeats)

    def predicted(self, t: float) -> tuple:
        """The box moved on by its recent motion to time `t` (for a short miss)."""
        dt = max(0.0, t - self.last_seen)
        x, y, w, h = self.box
        return (int(round(x + self.velocity[0] * dt)), int(round(y + self.velocity[1] * dt)),
                w, h)

    def move_to(self, box, t: float):
        """A new sighting: update the box and the velocity (smoothed over two hits)."""
        dt = t - self.last_seen
        if dt > 0:
            ox, oy, ow, oh = self.box
            nx, ny, nw, nh = box
            vx = (nx + nw / 2 - ox - ow / 2) / dt
            vy = (ny + nh / 2 - oy - oh / 2) / dt
            self.velocity = (0.5 * (self.velocity[0] + vx), 0.5 * (self.velocity[1] + vy))
        self.box, self.last_seen, self.missed = tuple(int(v) for v in box), t, 0
        self.streak += 1
        self.confirmed |= self.streak >= CONFIRM_STREAK


def iou(a, b) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    ix = max(0, min(ax + aw, bx + bw) - max(ax, bx))
    iy = max(0, min(ay + ah, by + bh) - max(ay, by))
    inter = ix * iy
    union = aw * ah + bw * bh - inter
    return inter / union if union > 0 else 0.0


def _centre_close(a, b, factor: float = 0.6) -> bool:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    dist = math.hypot(ax + aw / 2 - bx - bw / 2, ay + ah / 2 - by - bh / 2)
    similar = 0.6 < (aw / bw if bw else 0) < 1.6
    return similar and dist < factor * max(aw, bw)


class Tracker:
    """Face tracks with stable ids; a track is forgotten `forget_after` s after its last hit."""

    def __init__(self, tau: float = 0.25, hysteresis: float = 0.1, forget_after: float = 1.0):
        self.tau = tau
        self.hysteresis = hysteresis
        self.forget_after = forget_after
        self.tracks: dict[int, Track] = {}
        self._ids = itertools.count(1)

    def reset(self):
        self.tracks.clear()
        self._ids = itertools.count(1)

    def assign(self, claimed: dict, boxes, t: float) -> list[tuple[Track, tuple]]:
        """Match this frame's faces to tracks.

        `claimed`: track id -> box already found near that track's last box;
        `boxes`: other faces (full-frame scan). Returns (track, box) per face,
        new tracks included, and ages the tracks nobody matched.
        """
        pairs = [(self.tracks[i], b) for i, b in claimed.items() if i in self.tracks]
        taken = {tr.id for tr, _ in pairs}
        matched_boxes = [b for _, b in pairs]
        for box in boxes:
            if any(iou(box, m) > 0.3 for m in matched_boxes):
                continue                       # the same face, already placed
            free = [tr for tr in self.tracks.values() if tr.id not in taken]
            best = max(free, key=lambda tr: iou(tr.box, box), default=None)
            if best is None or (iou(best.box, box) < 0.2 and not _centre_close(best.box, box)):
                best = Track(next(self._ids), box, t,
                             ProbabilitySmoother(self.tau, self.hysteresis))
                self.tracks[best.id] = best
            taken.add(best.id)
            matched_boxes.append(box)
            pairs.append((best, box))
        for tr, box in pairs:
            tr.move_to(box, t)
        for tr in list(self.tracks.values()):
            if tr.id not in taken:
                tr.missed += 1
                tr.streak = 0
                if t - tr.last_seen > self.forget_after:
                    del self.tracks[tr.id]
        return pairs
