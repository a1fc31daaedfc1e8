"""Rates and memory for the status bar and the long-run log (plain Python)."""

import collections
import os
import time


class RateMeter:
    """Events per second over the last `window` seconds (thread-safe enough:
    one thread ticks, another reads)."""

    def __init__(self, window: float = 2.0, clock=time.monotonic):
        self.window = window
        self._clock = clock
        self._times = collections.deque()
        self.count = 0

    def tick(self, now: float | None = None):
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

    def reset(self):
        self._times.clear()

    def _trim(self, now: float):
        while self._times and now - self._times[0] > self.window:
            self._times.popleft()


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
