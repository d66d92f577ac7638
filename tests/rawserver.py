"""A raw HTTP server on 127.0.0.1 for the tests that need what LocalWebServer never sends or
never keeps: broken status lines, bad chunking, every request head as it arrived, every
connection, including ones that send nothing.

Each connection gets one answer (from `answer(head)`, bytes as they go on the wire), then is
closed.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class RawRequest:
    head: bytes  # the request line and headers, as received

    @property
    def target(self) -> str:
        parts = self.head.split(b"\r\n", 1)[0].split(b" ")
        return parts[1].decode("latin-1") if len(parts) > 1 else ""

    def header(self, name: str) -> list[str]:
        lines = self.head.decode("latin-1").split("\r\n")[1:]
        return [v.strip() for n, _, v in (x.partition(":") for x in lines)
                if n.strip().lower() == name.lower()]  # fmt: skip


def response(status: str, headers: list[tuple[str, str]], body: bytes) -> bytes:
    """A whole response; `status` is the status line after "HTTP/1.1 ", as sent."""
    head = [f"HTTP/1.1 {status}", *(f"{k}: {v}" for k, v in headers)]
    head += [f"Content-Length: {len(body)}", "Connection: close"]
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


class RawServer:
    def __init__(self, answer: Callable[[RawRequest], bytes]) -> None:
        self.answer = answer
        self.requests: list[RawRequest] = []
        self.connections = 0
        self._lock = threading.Lock()
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self.port: int = self._sock.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> RawServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._sock.close()
        self._thread.join(timeout=10)

    def targets(self) -> list[str]:
        with self._lock:
            return [r.target for r in self.requests]

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:  # closed by __exit__
                return
            with self._lock:
                self.connections += 1
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(30)
            data = b""
            try:
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    data += chunk
                request = RawRequest(data.split(b"\r\n\r\n", 1)[0])
                with self._lock:
                    self.requests.append(request)
                conn.sendall(self.answer(request))
            except OSError:
                return
