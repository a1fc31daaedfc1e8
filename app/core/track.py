"""Keep each face's identity from frame to frame and smooth its emotion over time.

Tracking is greedy box matching (overlap first, then centre distance for fast
moves); the pipeline mostly hands over faces already found near their own last
box. Smoothing (`ProbabilitySmoother`) works on the probabilities themselves, and
the label shown is always the top of the bars shown: time constants are in
seconds, so it behaves the same at 10 or 60 frames per second.
"""

import itertools
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from app.core.config import DEFAULTS
from app.nouns import Box, Detection

# A track is a face for sure once found in this many frames in a row: a false box
# (a lamp in dim light) comes and goes, a face stays. Only confirmed faces are
# held through a miss or searched for tilted.
CONFIRM_STREAK = 3


class ProbabilitySmoother:
    """Steady bars on a steady face, a quick move on a real change of expression.

    Two exponential moving averages of the readings, each reading first averaged
    with the one before (in a stream the face and its mirror image take turns, and
    their pair is the full reading). The bars shown are the slow average (`tau`):
    on a face between two emotions it wanders little. When the fast average
    (`fast_tau`) puts another emotion ahead of the label by more than `jump` for
    `confirm` seconds in a row, or by more than `sure` at all, a real change is
    under way and the bars move to the fast average at once. The slow average's
    own top takes over only when it leads the label by `margin`; until then the
    bars are shown with the two at a tie, the label's a hair above, so the label
    is always the top of the bars shown.
    A talking, moving face (readings swinging between two emotions) then keeps its
    label, where a jump on any brief lead of 0.15 made a square wave of it. On
    simulated webcam streams of the PublicTest faces (scripts/stream_check.py,
    docs/measurements.md): 0.92 label changes a second on a talking face (1.75
    before), 0.011 on a steady one, a real change shown after 0.17 s (median).
    """

    def __init__(self, tau: float = DEFAULTS.tau, fast_tau: float = DEFAULTS.fast_tau,
                 jump: float = DEFAULTS.jump, confirm: float = DEFAULTS.confirm,
                 margin: float = DEFAULTS.label_margin, sure: float = DEFAULTS.sure) -> None:
        self.tau = tau
        self.fast_tau = fast_tau
        self.jump = jump
        self.confirm = confirm
        self.margin = margin
        self.sure = sure
        self.reset()

    def reset(self) -> None:
        self.mean: np.ndarray | None = None     # the slow average
        self._fast: np.ndarray | None = None
        self._last: np.ndarray | None = None
        self._t: float | None = None
        self.label: int | None = None           # the top of the bars shown
        # (emotion, since when) the fast one leads
        self._leading: tuple[int, float] | None = None

    def update(self, probs: Sequence[float] | np.ndarray, t: float) -> tuple[np.ndarray, int]:
        """Add one frame's probabilities at time `t` (s); returns (shown, its top index)."""
        p = np.asarray(probs, dtype=np.float64)
        pair = p if self._last is None else (p + self._last) / 2
        self._last = p
        if self.mean is None or self._fast is None or self.label is None or self._t is None:
            self.mean, self._fast = pair.copy(), pair.copy()
            self.label = int(np.argmax(pair))
        else:
            dt = max(0.0, t - self._t)
            self.mean += _alpha(dt, self.tau) * (pair - self.mean)
            self._fast += _alpha(dt, self.fast_tau) * (pair - self._fast)
            top = int(np.argmax(self.mean))
            if top != self.label and self.mean[top] - self.mean[self.label] > self.margin:
                self.label = top
            if self._jumps(self._fast, self.label, t):
                self.mean = self._fast.copy()
                self.label, self._leading = int(np.argmax(self.mean)), None
        self._t = t
        shown = _with_top(self.mean, self.label)
        return shown.astype(np.float32), self.label

    def _jumps(self, fast: np.ndarray, label: int, t: float) -> bool:
        """The fast average has led the label by `jump` for `confirm` s: a real change."""
        ahead = int(np.argmax(fast))
        if ahead == label or fast[ahead] - fast[label] <= self.jump:
            self._leading = None
            return False
        if self._leading is None or self._leading[0] != ahead:
            self._leading = (ahead, t)
        lead = float(fast[ahead] - fast[label])
        return lead > self.sure or t - self._leading[1] >= self.confirm - 1e-3


# how far above a bar it ties with the label is shown: still above it once the
# probabilities are rounded to 4 decimals (the CSV, the JSON)
HAIR = 1e-4


def _with_top(probs: np.ndarray, label: int) -> np.ndarray:
    """`probs` with `label` the top: any higher bar shares the difference with it
    (a tie, the label a hair above); unchanged where `label` is the top already."""
    out: np.ndarray = probs.copy()
    for _ in range(len(out)):
        top = int(np.argmax(out))
        if top == label:
            break
        mid = (out[top] + out[label]) / 2
        out[top], out[label] = mid - HAIR, mid + HAIR
    return out


def _alpha(dt: float, tau: float) -> float:
    """The share of a new reading after `dt` s in an average with time constant `tau`."""
    return 1.0 - math.exp(-dt / tau) if tau > 0 else 1.0


@dataclass
class Track:
    id: int
    box: Box
    last_seen: float
    smoother: ProbabilitySmoother
    missed: int = 0          # frames in a row without a detection
    streak: int = 0          # frames in a row it was found in, up to now
    confirmed: bool = False  # found CONFIRM_STREAK frames in a row at least once
    velocity: tuple[float, float] = (0.0, 0.0)   # of the box centre, pixels per second
    angle: float = 0.0       # head tilt (degrees) at which it was last found
    shown: Detection | None = None     # the last Detection drawn for it (what a hold repeats)
    calibrated: bool = False  # its readings have its person's neutral taken out

    def predicted(self, t: float) -> Box:
        """The box moved on by its recent motion to time `t` (for a short miss)."""
        dt = max(0.0, t - self.last_seen)
        x, y, w, h = self.box
        return (int(round(x + self.velocity[0] * dt)), int(round(y + self.velocity[1] * dt)),
                w, h)

    def move_to(self, box: Box, t: float) -> None:
        """A new sighting: update the box and the velocity (smoothed over two hits)."""
        dt = t - self.last_seen
        if dt > 0:
            ox, oy, ow, oh = self.box
            nx, ny, nw, nh = box
            vx = (nx + nw / 2 - ox - ow / 2) / dt
            vy = (ny + nh / 2 - oy - oh / 2) / dt
            self.velocity = (0.5 * (self.velocity[0] + vx), 0.5 * (self.velocity[1] + vy))
        x, y, w, h = (int(v) for v in box)
        self.box, self.last_seen, self.missed = (x, y, w, h), t, 0
        self.streak += 1
        self.confirmed |= self.streak >= CONFIRM_STREAK


def iou(a: Box, b: Box) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    ix = max(0, min(ax + aw, bx + bw) - max(ax, bx))
    iy = max(0, min(ay + ah, by + bh) - max(ay, by))
    inter = ix * iy
    union = aw * ah + bw * bh - inter
    return inter / union if union > 0 else 0.0


def _centre_close(a: Box, b: Box, factor: float = 0.6) -> bool:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    dist = math.hypot(ax + aw / 2 - bx - bw / 2, ay + ah / 2 - by - bh / 2)
    similar = 0.6 < (aw / bw if bw else 0) < 1.6
    return similar and dist < factor * max(aw, bw)


class Tracker:
    """Face tracks with stable ids; a track is forgotten `forget_after` s after its last hit."""

    def __init__(self, smoother: Callable[[], ProbabilitySmoother] = ProbabilitySmoother,
                 forget_after: float = 1.0) -> None:
        self.smoother = smoother        # makes each new track's smoother
        self.forget_after = forget_after
        self.tracks: dict[int, Track] = {}
        self._ids = itertools.count(1)

    def reset(self) -> None:
        self.tracks.clear()
        self._ids = itertools.count(1)

    def assign(self, claimed: dict[int, Box], boxes: Iterable[Box],
               t: float) -> list[tuple[Track, Box]]:
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
                best = Track(next(self._ids), box, t, self.smoother())
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
