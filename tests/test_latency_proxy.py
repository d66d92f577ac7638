"""The scaling benchmark's latency proxy (benchmarks/latency_proxy.py), in front of a real Valkey:
bytes pass unchanged both ways, and it counts the commands and round trips a client made.
Raw RESP over a socket, so the counts do not depend on what a client library sends."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import redis

from benchmarks.latency import proxied

SCRIPT = "return redis.call('GET', KEYS[1])"


def resp(*args: str) -> bytes:
    out = [f"*{len(args)}\r\n".encode()]
    for arg in args:
        out.append(f"${len(arg.encode())}\r\n{arg}\r\n".encode())
    return b"".join(out)


def expect(sock: socket.socket, reply: bytes) -> None:
    """The next bytes from the server are exactly `reply`."""
    buf = b""
    while len(buf) < len(reply):
        chunk = sock.recv(4096)
        assert chunk, f"connection closed after {buf!r}"
        buf += chunk
    assert buf == reply


def test_the_proxy_passes_bytes_and_counts_commands_and_round_trips(
    redis_server: str, tmp_path: Path
) -> None:
    counts = tmp_path / "counts.json"
    with proxied(redis_server, 1.0, counts) as (url, _):
        host, port = url.removeprefix("redis://").split("/")[0].rsplit(":", 1)
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            for n in range(3):  # three round trips of one command
                sock.sendall(resp("SET", f"lg-proxy-{n}", "é" * n))
                expect(sock, b"+OK\r\n")
            burst = resp("INCR", "lg-proxy-n") + resp("INCR", "lg-proxy-n")
            sock.sendall(burst[:7])  # one command split across sends: still one round trip
            sock.sendall(burst[7:])
            expect(sock, b":1\r\n:2\r\n")
            sock.sendall(resp("EVAL", SCRIPT, "1", "lg-proxy-2"))
            expect(sock, b"$4\r\n" + "éé".encode() + b"\r\n")
            sock.sendall(resp("DEL", "lg-proxy-0", "lg-proxy-1", "lg-proxy-2", "lg-proxy-n"))
            expect(sock, b":4\r\n")
    got = json.loads(counts.read_text())
    sha = redis.Redis.from_url(redis_server).script_load(SCRIPT)  # the server's own SHA1
    assert got["commands"] == {"SET": 3, "INCR": 2, f"EVALSHA {sha}": 1, "DEL": 1}
    assert got["round_trips"] == 6 and got["connections"] == 1
