"""A real HTTP/1.1 server on one local port that serves many virtual hosts by their Host header.

It runs an asyncio loop in a background thread: one thread copes with hundreds of keep-alive
connections and a slow (delayed) response never blocks the others. Requests on a connection
are answered in order, which is what HTTP/1.1 pipelining requires.

`RequestLog` times are `time.monotonic()` seconds (CLOCK_MONOTONIC, comparable across
processes on one Linux machine), so politeness intervals can be checked exactly.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
from dataclasses import dataclass
from http import HTTPStatus
from types import TracebackType

from crawler.demo.web import Resource, SeededWeb, Web, write_hosts_file
from crawler.urls import canonicalize, host_of

__all__ = ["LocalWebServer", "RequestLog", "Resource", "SeededWeb", "Web", "write_hosts_file"]

log = logging.getLogger(__name__)

MAX_HEAD = 64 * 1024  # a request head larger than this is not a crawler's
NOT_FOUND = Resource(404, [("Content-Type", "text/plain; charset=utf-8")], b"Not Found\n")


@dataclass(slots=True, frozen=True)
class RequestLog:
    host: str  # Host header, lowercase, without port
    path: str  # request target as sent: path and query
    started: float  # time.monotonic() when the request head was read
    finished: float  # time.monotonic() just before the response was handed to the socket
    status: int
    user_agent: str


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def _host_name(authority: str) -> str:
    """The host of a Host header or an absolute-form authority, spelled as the crawler does."""
    return host_of(canonicalize(f"http://{authority.strip()}/") or "")


class _Connection(asyncio.Protocol):
    """One client connection: parses request heads from a buffer and answers them in order."""

    def __init__(self, server: LocalWebServer) -> None:
        self.server = server
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None
        self.busy = False  # a delayed response is pending; later requests wait behind it
        self.paused = False  # the client reads slower than we write
        self.pending: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.server._connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.server._connections.discard(self)
        if self.pending is not None:
            self.pending.cancel()
        self.transport = None

    def pause_writing(self) -> None:
        self.paused = True

    def resume_writing(self) -> None:
        self.paused = False
        self._serve()

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        self._serve()

    def _serve(self) -> None:
        try:
            while self.transport is not None and not (self.busy or self.paused):
                # Stray CRLFs between requests are allowed (RFC 9112 section 2.2).
                while self.buffer.startswith(b"\r\n"):
                    del self.buffer[:2]
                if self.buffer[:1] and not self.buffer[:1].isalpha():
                    # Not a request line, e.g. a TLS ClientHello: answer now, don't wait.
                    self._fail(400)
                    return
                end = self.buffer.find(b"\r\n\r\n")
                if end < 0:
                    if len(self.buffer) > MAX_HEAD:
                        self._fail(431)
                    return
                if not self._handle(end):
                    return
        except Exception:  # a bug here must cost one connection, not the server
            log.exception("web server connection failed")
            if self.transport is not None:
                self.transport.abort()
                self.transport = None

    def _fail(self, status: int) -> None:
        body = f"{status} {_reason(status)}\n".encode()
        self._write(status, [("Content-Type", "text/plain")], body, keep_alive=False)

    def _handle(self, end: int) -> bool:
        """Answer the request whose head ends at `end`; False when it must wait or stop."""
        lines = bytes(self.buffer[:end]).decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            self._fail(400)  # also what a TLS handshake on this plain port ends as
            return False
        method, target, version = parts
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if not sep:
                self._fail(400)
                return False
            headers[name.strip().lower()] = value.strip()
        if "chunked" in headers.get("transfer-encoding", "").lower():
            self._fail(501)  # crawlers send GET and HEAD; no request bodies are expected
            return False
        try:
            length = int(headers.get("content-length", "0"))
        except ValueError:
            self._fail(400)
            return False
        if len(self.buffer) < end + 4 + length:
            return False  # wait for the rest of the body, then discard it
        del self.buffer[: end + 4 + length]

        connection = headers.get("connection", "").lower()
        keep_alive = "close" not in connection and (
            version == "HTTP/1.1" or "keep-alive" in connection
        )
        if target.startswith(("http://", "https://")):  # absolute-form, as sent to a proxy
            authority, _, rest = target.split("//", 1)[1].partition("/")
            host, target = _host_name(authority), "/" + rest
        else:
            host = _host_name(headers.get("host", ""))
        started = time.monotonic()
        if method not in ("GET", "HEAD"):
            resource = Resource(405, [("Allow", "GET, HEAD")], b"")
        else:
            resource = self.server._resolve(host, target)
        body = b"" if method == "HEAD" else resource.body
        entry = (host, target, started, resource.status, headers.get("user-agent", ""))

        if resource.delay > 0:
            self.busy = True
            loop = asyncio.get_running_loop()
            self.pending = loop.call_later(
                resource.delay, self._delayed, resource, body, keep_alive, entry
            )
            return False
        self._respond(resource, body, keep_alive, entry)
        return True

    def _delayed(self, resource: Resource, body: bytes, keep_alive: bool, entry: tuple) -> None:
        self.pending = None
        self.busy = False
        if self.transport is None:
            return
        self._respond(resource, body, keep_alive, entry)
        self._serve()

    def _respond(self, resource: Resource, body: bytes, keep_alive: bool, entry: tuple) -> None:
        # Logged before the write so a client that has its answer also finds it in the log.
        host, path, started, status, agent = entry
        self.server._record(RequestLog(host, path, started, time.monotonic(), status, agent))
        length = len(resource.body)  # HEAD announces the GET length
        self._write(resource.status, resource.headers, body, keep_alive, length)

    def _write(
        self,
        status: int,
        headers: list[tuple[str, str]],
        body: bytes,
        keep_alive: bool,
        length: int | None = None,
    ) -> None:
        if self.transport is None:
            return
        head = [f"HTTP/1.1 {status} {_reason(status)}", "Server: linkgraph-localweb"]
        head += [f"{k}: {v}" for k, v in headers if k.lower() != "content-length"]
        head.append(f"Content-Length: {len(body) if length is None else length}")
        head.append("Connection: keep-alive" if keep_alive else "Connection: close")
        # UTF-8 so a raw IDN or non-ASCII Location goes out as written.
        self.transport.write(("\r\n".join(head) + "\r\n\r\n").encode("utf-8") + body)
        if not keep_alive:
            self.transport.close()  # sends what is buffered first
            self.transport = None


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
        self._connections: set[_Connection] = set()
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
                    coro = loop.create_server(lambda: _Connection(self), sock=self._sock)
                else:
                    coro = loop.create_server(
                        lambda: _Connection(self),
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
    def _resolve(self, host: str, target: str) -> Resource:
        try:
            found = self.web.resolve(host, target, self.port)
        except Exception:  # a broken page must not take the connection down
            log.exception("resolving %s%s failed", host, target)
            return Resource(500, [("Content-Type", "text/plain")], b"Internal Server Error\n")
        return NOT_FOUND if found is None else found

    def _record(self, entry: RequestLog) -> None:
        if self.record:
            with self._lock:
                self.log.append(entry)
