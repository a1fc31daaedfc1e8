"""A one-slot mailbox between the capture and the processing thread.

The capture side always puts the newest frame in and throws the unread one
away, so when processing is slower than the camera the frames in between are
dropped rather than queued: what is shown is never more than one frame behind.
"""

import threading


class Closed(Exception):
    """The mailbox was closed while waiting."""


class LatestMailbox:
    """Holds at most one item; `put` replaces, `get` waits for the next one."""

    def __init__(self):
        self._cond = threading.Condition()
        self._item = None
        self._full = False
        self._closed = False
        self.dropped = 0

    def put(self, item) -> bool:
        """Store `item`; True when an unread item was dropped to make room."""
        with self._cond:
            dropped = self._full
            self.dropped += dropped
            self._item, self._full = item, True
            self._cond.notify()
            return dropped

    def get(self, timeout: float | None = None):
        """The newest item, waiting up to `timeout` s; None on timeout. Raises Closed."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._full or self._closed, timeout):
                return None
            if self._closed:
                raise Closed
            item, self._item, self._full = self._item, None, False
            return item

    def clear(self):
        with self._cond:
            self._item, self._full = None, False

    def close(self):
        """Wake every waiter with Closed; later puts are ignored by `get`."""
        with self._cond:
            self._closed = True
            self._item, self._full = None, False
            self._cond.notify_all()

    @property
    def closed(self) -> bool:
        return self._closed
