"""The WebSocket feed sends one JSON text message per processed frame to every
client, {"type": "frame", "time", "frame", "source", "faces": [...]}, each face as
in the snapshot JSON (Detection.to_dict, with its valence), and {"type":
"marker", "time", "frame", "number", "text"} for a marker. The JSON is built once
per message and the same bytes go to every client. A slow or stuck client never
holds anything up: each client has a queue of QUEUE_SIZE messages, the oldest
goes when it is full, and the next message it gets says how many it missed
("missed": N, first field). Nothing else buffers without bound: the hand-over
from the publishing thread keeps at most QUEUE_SIZE messages too, and the
socket's write buffer is capped (WRITE_LIMIT).

Browsers let any web page open a WebSocket to 127.0.0.1, so the feed checks where
a browser's page comes from (its Origin): a page opened from a file or served
from this computer (localhost) may read it, a page from a web site may not.
Programs (no Origin) always may.
"""

import asyncio
import collections
import errno
import logging
import re
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, TypedDict, cast

from app.io.feed_messages import Address, is_loopback, with_missed
from model.runtime.errors import UserError

if TYPE_CHECKING:   # websockets itself is imported when a server starts
    from websockets.asyncio.server import Server, ServerConnection
    from websockets.typing import Origin

log = logging.getLogger(__name__)

QUEUE_SIZE = 16             # messages waiting per client (about half a second at 30 fps)
WRITE_LIMIT = 2 ** 15       # bytes a client's connection buffers before a send waits
START_TIMEOUT = 10.0        # s to bind the server
CLOSE_TIMEOUT = 1.0         # s a client gets to answer the closing handshake
# the pages allowed to read the feed: none (a program), a file ("null"), this computer
ORIGINS = (None, "null",
           re.compile(r"(https?|file)://(localhost|127\.\d+\.\d+\.\d+|\[::1\])(:\d+)?"))


class ClientStats(TypedDict):
    peer: int | None        # the client's port
    queued: int
    most: int
    dropped: int


class _Client:
    """One connection's queue: the newest `size` messages, and how many it missed."""

    def __init__(self, connection: "ServerConnection", size: int) -> None:
        self.connection = connection
        self.queue: collections.deque[bytes] = collections.deque()
        self.size = size
        self.missed = 0          # dropped since the last message it got
        self.dropped = 0         # dropped in all
        self.most = 0            # the longest its queue has been
        self.ready = asyncio.Event()

    def put(self, data: bytes, missed: int = 0) -> None:
        self.missed += missed
        self.dropped += missed
        if len(self.queue) >= self.size:
            self.queue.popleft()
            self.missed += 1
            self.dropped += 1
        self.queue.append(data)
        self.most = max(self.most, len(self.queue))
        self.ready.set()


class FeedServer:
    """A WebSocket server pushing every published message to every client.

    `start()` binds (a UserError if it cannot, e.g. the port is in use) and runs
    the asyncio loop in a daemon thread. `publish(data)` may be called from any
    thread and never waits. `close()` closes the connections and the thread."""

    def __init__(self, address: Address, queue_size: int = QUEUE_SIZE) -> None:
        self.requested = address
        self.address: Address | None = None      # the bound one (port 0 resolved)
        self.queue_size = queue_size
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: Server | None = None
        self._clients: dict[ServerConnection, _Client] = {}     # (the loop thread's)
        self._lock = threading.Lock()
        self._pending: collections.deque[bytes] = collections.deque()   # not yet fanned out
        self._pending_lost = 0
        self._scheduled = False
        self._closed = False
        self.published = 0

    # ---- from any thread
    def start(self) -> "FeedServer":
        self._loop = loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, args=(loop,), name="feed-server",
                                        daemon=True)
        self._thread.start()
        try:
            future = asyncio.run_coroutine_threadsafe(self._open(), loop)
            address = future.result(START_TIMEOUT)
        except OSError as exc:
            self._stop_loop()
            host = self.requested
            why = "the port is in use (choose another)" if exc.errno == errno.EADDRINUSE \
                else str(exc)
            raise UserError(f"--serve {host}: cannot start the WebSocket feed: {why}") \
                from None
        except Exception:
            self._stop_loop()
            raise
        if not is_loopback(address.host):
            log.warning("the WebSocket feed listens on %s: others on the network can read "
                        "it (use 127.0.0.1 to keep it on this computer)", address)
        return self

    @property
    def url(self) -> str:
        return f"ws://{self.address}"

    def publish(self, data: bytes) -> None:
        """Queue `data` (UTF-8 JSON) for every client connected; returns at once."""
        if self._closed or self._loop is None:
            return
        with self._lock:
            self.published += 1
            if len(self._pending) >= self.queue_size:
                self._pending.popleft()
                self._pending_lost += 1
            self._pending.append(data)
            if self._scheduled:
                return
            self._scheduled = True
        try:
            self._loop.call_soon_threadsafe(self._fan_out)
        except RuntimeError:      # the loop closed meanwhile
            pass

    @property
    def clients(self) -> int:
        return len(self._clients)

    def client_stats(self) -> list[ClientStats]:
        """Per client: its port ("peer"), the messages waiting, the longest its queue
        has been, and the messages dropped in all."""
        return [{"peer": _peer(c.connection)[1], "queued": len(c.queue), "most": c.most,
                 "dropped": c.dropped} for c in tuple(self._clients.values())]

    def flush(self, timeout: float = START_TIMEOUT) -> None:
        """Wait until what was published so far is in the clients' queues."""
        if not self._closed and self._loop is not None:
            asyncio.run_coroutine_threadsafe(asyncio.sleep(0), self._loop).result(timeout)

    def close(self, timeout: float = 2 * CLOSE_TIMEOUT + 0.5) -> None:
        """Close every connection and stop the thread (idempotent)."""
        if self._closed or self._loop is None:
            self._closed = True
            return
        try:
            self.flush()         # the last frames published reach the clients' queues
        except Exception as exc:  # noqa: BLE001 - a slow loop must not hold up the exit
            log.debug("feed server flush: %s", exc)
        for stats in self.client_stats():
            if stats["dropped"]:
                log.warning("feed client on port %s read too slowly and missed %d messages",
                            stats["peer"], stats["dropped"])
        self._closed = True
        try:
            asyncio.run_coroutine_threadsafe(self._shut(), self._loop).result(timeout)
        except Exception as exc:  # noqa: BLE001 - a slow close must not hold up the exit
            log.debug("feed server close: %s", exc)
        self._stop_loop(timeout)

    # ---- the loop thread
    def _run(self, loop: asyncio.AbstractEventLoop) -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_forever()
        finally:      # what is left (a close cut short) is cancelled, as asyncio.run does
            tasks = asyncio.all_tasks(loop)
            for task in tasks:
                task.cancel()
            if tasks:
                loop.run_until_complete(asyncio.wait(tasks, timeout=CLOSE_TIMEOUT))
            loop.close()

    def _stop_loop(self, timeout: float = 2.0) -> None:
        self._closed = True
        if self._loop is not None and self._loop.is_running():
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(timeout)

    async def _open(self) -> Address:
        from websockets.asyncio.server import serve

        # (websockets' Origin is a NewType of str: the strings above are origins)
        origins = cast("Sequence[Origin | re.Pattern[str] | None]", ORIGINS)
        self._server = server = await serve(
            self._handle, self.requested.host, self.requested.port, origins=origins,
            compression=None, close_timeout=CLOSE_TIMEOUT, write_limit=WRITE_LIMIT,
            max_size=2 ** 16, max_queue=4, logger=log)
        port = server.sockets[0].getsockname()[1]      # port 0: the one chosen
        self.address = Address(self.requested.host, port)
        return self.address

    async def _shut(self) -> None:
        """Close every connection: with the closing handshake, except for a client
        whose connection is full (it reads nothing, so it would never answer) or
        that has not answered within CLOSE_TIMEOUT: those are cut off."""
        if self._server is None:
            return
        connections = set(self._server.connections) | set(self._clients)
        for connection in connections:
            if connection.transport.get_write_buffer_size() >= WRITE_LIMIT:
                connection.transport.abort()
        self._server.close()
        try:
            await asyncio.wait_for(asyncio.shield(self._server.wait_closed()), CLOSE_TIMEOUT)
        except asyncio.TimeoutError:   # (not the built-in one before Python 3.11)
            for connection in set(self._server.connections) | set(self._clients):
                connection.transport.abort()
            await asyncio.wait_for(self._server.wait_closed(), CLOSE_TIMEOUT)

    def _fan_out(self) -> None:
        with self._lock:
            items = list(self._pending)
            self._pending.clear()
            lost, self._pending_lost = self._pending_lost, 0
            self._scheduled = False
        for client in tuple(self._clients.values()):
            for i, data in enumerate(items):
                client.put(data, lost if i == 0 else 0)

    async def _handle(self, connection: "ServerConnection") -> None:
        client = _Client(connection, self.queue_size)
        self._clients[connection] = client
        log.info("feed: a client connected from %s (%d now)", _peer(connection)[0],
                 len(self._clients))
        sender = asyncio.create_task(self._send_loop(client))
        try:
            async for _ in connection:     # what a client sends is not used
                pass
        except Exception:  # noqa: BLE001 - a broken connection ends only itself
            pass
        finally:
            del self._clients[connection]
            sender.cancel()
            log.info("feed: a client left (%d now)", len(self._clients))

    @staticmethod
    async def _send_loop(client: _Client) -> None:
        connection = client.connection
        try:
            while True:
                await client.ready.wait()
                client.ready.clear()
                while client.queue:
                    data = client.queue.popleft()
                    if client.missed:
                        data, client.missed = with_missed(data, client.missed), 0
                    await connection.send(data, text=True)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - closed or broken: the handler cleans up
            return


def _peer(connection: "ServerConnection") -> tuple[str, int | None]:
    """(host, port) of the client."""
    try:
        return tuple(connection.remote_address[:2])
    except Exception:  # noqa: BLE001 - already gone
        return ("?", None)
