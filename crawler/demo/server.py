"""A real HTTP/1.1 server on one local port that serves many virtual hosts by their Host header.

It runs an asyncio loop in a background thread: one thread copes with hundreds of keep-alive
connections and a slow (delayed) response never blocks the others. Each connection parses and
answers its own requests (connection.py); this module owns the thread, the listening socket and
the request log.

`RequestLog` times are `time.monotonic()` seconds (CLOCK_MONOTONIC, comparable across
processes on one Linux machine), so politeness intervals can be checked exactly.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from dataclasses import dataclass
from types import TracebackType

from crawler.demo.connection import ClientConnection
from crawler.demo.web import Resource, SeededWeb, Web, write_hosts_file

__all__ = ["LocalWebServer", "RequestLog", "Resource", "SeededWeb", "Web", "write_hosts_file"]

log = logging.getLogger(__name__)

NOT_FOUND = Resource(404, [("Content-Type", "text/plain; charset=utf-8")], b"Not Found\n")


@dataclass(slots=True, frozen=True)
class RequestLog:
    host: str  # Host header, lowercase, without port
    path: str  # request target as sent: path and query
    started: float  # time.monotonic() when the request head was read
    finished: float  # time.monotonic() just before the response was handed to the socket
    status: int
    user_agent: str


class LocalWebServer:
    """Serves `web` on host:port (port 0 picks a free one) from a background thread."""

    def __init__(
        self,
        web: Web,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        record: bool = True,
        sock: socket.socket | None = None,
    ) -> None:
        self.web = web
        self.host = host
        self.port = port
        self.record = record  # long benchmarks can switch the request log off
        self.log: list[RequestLog] = []
        self._sock = sock  # an already listening socket (pre-forked workers share one)
        self._lock = threading.Lock()
        self._connections: set[ClientConnection] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> LocalWebServer:
        """Start listening; returns once connections are accepted."""
        if self._thread is not None:
            raise RuntimeError("server already started")
        loop = asyncio.new_event_loop()
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                if self._sock is not None:
                    coro = loop.create_server(self._connect, sock=self._sock)
                else:
                    coro = loop.create_server(
                        self._connect,
                        self.host,
                        self.port,
                        reuse_address=True,
                        backlog=1024,  # a crawler opens dozens of connections at once
                    )
                self._server = loop.run_until_complete(coro)
            except BaseException as exc:  # reported to start()'s caller
                failure.append(exc)
                ready.set()
                loop.close()
                return
            self.port = self._server.sockets[0].getsockname()[1]
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.close()

        self._loop = loop
        self._thread = threading.Thread(target=run, name="web-server", daemon=True)
        self._thread.start()
        ready.wait()
        if failure:
            self._thread = None
            raise failure[0]
        return self

    def stop(self) -> None:
        if self._thread is None or self._loop is None:
            return

        def shutdown() -> None:
            if self._server is not None:
                self._server.close()
            for conn in list(self._connections):
                if conn.transport is not None:
                    conn.transport.abort()
            assert self._loop is not None
            self._loop.stop()

        self._loop.call_soon_threadsafe(shutdown)
        self._thread.join()
        self._thread = None

    def __enter__(self) -> LocalWebServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- helpers for callers --------------------------------------------------------------
    def url(self, host: str, path: str = "/") -> str:
        return f"http://{host}:{self.port}{path}"

    def requests(self) -> list[RequestLog]:
        """A snapshot of the log that is safe to iterate while the server runs."""
        with self._lock:
            return list(self.log)

    # -- called on the loop thread --------------------------------------------------------
    def _connect(self) -> ClientConnection:
        return ClientConnection(self._resolve, self._record, self._connections)

    def _resolve(self, host: str, target: str) -> Resource:
        try:
            found = self.web.resolve(host, target, self.port)
        except Exception:  # a broken page must not take the connection down
            log.exception("resolving %s%s failed", host, target)
            return Resource(500, [("Content-Type", "text/plain")], b"Internal Server Error\n")
        return NOT_FOUND if found is None else found

    def _record(
        self, host: str, path: str, started: float, finished: float, status: int, agent: str
    ) -> None:
        if self.record:
            entry = RequestLog(host, path, started, finished, status, agent)
            with self._lock:
                self.log.append(entry)
