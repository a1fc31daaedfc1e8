"""Rates and memory for the status bar and the long-run log, and a frame's stage
timings (plain Python)."""

import collections
import os
import time
from collections.abc import Callable


class RateMeter:
    """Events per second over the last `window` seconds (thread-safe enough:
    one thread ticks, another reads)."""

    def __init__(self, window: float = 2.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.window = window
        self._clock = clock
        self._times: collections.deque[float] = collections.deque()
        self.count = 0

    def tick(self, now: float | None = None) -> None:
        now = self._clock() if now is None else now
        self._times.append(now)
        self.count += 1
        self._trim(now)

    def rate(self, now: float | None = None) -> float:
        now = self._clock() if now is None else now
        self._trim(now)
        times = list(self._times)
        if len(times) < 2:
            return 0.0
        span = max(now - times[0], times[-1] - times[0])
        return (len(times) - 1) / span if span > 0 else 0.0

    def reset(self) -> None:
        self._times.clear()

    def _trim(self, now: float) -> None:
        while self._times and now - self._times[0] > self.window:
            self._times.popleft()


class Laps:
    """Milliseconds of a frame's stages, each timed from the end of the one before:
    call it with a stage's name as the stage ends; `ms()` adds the "total"."""

    def __init__(self, clock: Callable[[], float] = time.perf_counter) -> None:
        self._clock = clock
        self._start = self._last = clock()
        self._ms: dict[str, float] = {}

    def __call__(self, stage: str) -> None:
        now = self._clock()
        self._ms[stage] = (now - self._last) * 1000.0
        self._last = now

    def ms(self) -> dict[str, float]:
        return {**self._ms, "total": (self._last - self._start) * 1000.0}


def rss_mb() -> float:
    """Resident memory of this process in MiB (Linux /proc; 0 where unavailable)."""
    try:
        with open(f"/proc/{os.getpid()}/statm") as fh:
            pages = int(fh.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return 0.0


def process_age() -> float:
    """Seconds since this process started (Linux; the launch, not the first import)."""
    try:
        with open(f"/proc/{os.getpid()}/stat") as fh:
            start_ticks = int(fh.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime") as fh:
            uptime = float(fh.read().split()[0])
        return uptime - start_ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return float("nan")
