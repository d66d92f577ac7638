"""One client connection to the local web server: HTTP/1.1 request heads in, responses out.

Requests on a connection are answered in order, which is what HTTP/1.1 pipelining requires: a
delayed (slow host) response holds back the requests behind it on the same connection only.
The connection knows nothing of the server's lifecycle; it is handed the three things it needs
(`resolve`, `record`, and the set of open connections the server aborts when it stops).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from http import HTTPStatus

from crawler.demo.web import Resource
from crawler.urls import canonicalize, host_of

log = logging.getLogger(__name__)

MAX_HEAD = 64 * 1024  # a request head larger than this is not a crawler's

# (host, target) -> the response to send
Resolve = Callable[[str, str], Resource]
# (host, path, started, finished, status, user agent) -> None; see server.RequestLog
Record = Callable[[str, str, float, float, int, str], None]
# What a request's response waits with: (host, target, started, status, user agent)
_Entry = tuple[str, str, float, int, str]


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def _host_name(authority: str) -> str:
    """The host of a Host header or an absolute-form authority, spelled as the crawler does."""
    return host_of(canonicalize(f"http://{authority.strip()}/") or "")


class ClientConnection(asyncio.Protocol):
    """One client connection: parses request heads from a buffer and answers them in order."""

    def __init__(
        self, resolve: Resolve, record: Record, open_connections: set[ClientConnection]
    ) -> None:
        self.resolve = resolve
        self.record = record
        self.open_connections = open_connections
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None
        self.busy = False  # a delayed response is pending; later requests wait behind it
        self.paused = False  # the client reads slower than we write
        self.pending: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.open_connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.open_connections.discard(self)
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
            resource = self.resolve(host, target)
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

    def _delayed(self, resource: Resource, body: bytes, keep_alive: bool, entry: _Entry) -> None:
        self.pending = None
        self.busy = False
        if self.transport is None:
            return
        self._respond(resource, body, keep_alive, entry)
        self._serve()

    def _respond(self, resource: Resource, body: bytes, keep_alive: bool, entry: _Entry) -> None:
        # Logged before the write so a client that has its answer also finds it in the log.
        host, path, started, status, agent = entry
        self.record(host, path, started, time.monotonic(), status, agent)
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
