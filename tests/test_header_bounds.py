"""Unbounded values of a response are bounded: its headers as they arrive, its redirect target
and its title. A real crawl of a raw socket server on 127.0.0.1 (it sends what no web server
would), under a wrapper that reports the crawl's peak RSS, and the extraction on its own."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from crawler import settings
from crawler.demo.server import write_hosts_file
from crawler.extraction import Limits, extract
from tests.conftest import LINKGRAPH, ROOT, query
from tests.rawserver import RawRequest, RawServer, response

HTML = [("Content-Type", "text/html")]
HEADER_LINES = 100_000
FILLER = "x" * 1000  # each header line about 1 KiB: 100 MB of headers in all
MAX_HEADER_BYTES = settings.LINKGRAPH_MAX_HEADER_BYTES
MAX_URL = settings.LINKGRAPH_MAX_LINK_URL_LENGTH
MAX_TITLE = settings.LINKGRAPH_MAX_ANCHOR_LENGTH
# What a socket may hold unread between the two ends on loopback (send and receive buffers):
# a client that stops reading at the bound lets the server send at most about this much.
SOCKET_SLACK = 32 * 1024 * 1024
# The crawl's largest process: 490-650 MB measured (chDB and Scrapy loaded, more under load).
# Reading all 100 MB of headers takes far more; the bytes the server got out before the client
# hung up are the sharper check.
MAX_RSS_MB = 1000
# Runs the crawl and prints the largest peak RSS of any process of its tree, in KiB.
WRAPPER = (
    "import resource, subprocess, sys\n"
    "status = subprocess.run(sys.argv[1:]).returncode\n"
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, status)\n"
)
LONG_TARGET = "/far/" + "a" * MAX_URL  # resolved, longer than the URL bound
TITLE = "word " * 1000  # 5,000 characters


def many_header_lines() -> Iterator[bytes]:
    yield b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n"
    for i in range(HEADER_LINES):
        yield f"X-Filler-{i}: {FILLER}\r\n".encode()
    yield b"Content-Length: 0\r\nConnection: close\r\n\r\n"


def head_of(size: int) -> bytes:
    """A 200 response whose status line and headers (with the empty line) are `size` bytes."""
    empty = response("200 OK", [*HTML, ("X-Pad", "")], b"")
    return response("200 OK", [*HTML, ("X-Pad", "p" * (size - len(empty)))], b"")


LINKED = ("/a", "/headers", "/far", "/title", "/at-bound", "/over-bound")


def answers(request: RawRequest) -> bytes:
    links = " ".join(f'<a href="{target}">x</a>' for target in LINKED)
    pages = {
        "/at-bound": head_of(MAX_HEADER_BYTES),  # one line of almost all of it
        "/over-bound": head_of(MAX_HEADER_BYTES + 1),
        "/": response("200 OK", HTML, links.encode()),
        "/a": response("200 OK", HTML, b'<a href="/b">b</a>'),
        "/b": response("200 OK", HTML, b"no links"),
        "/far": response("301 Moved Permanently", [("Location", LONG_TARGET)], b""),
        "/title": response("200 OK", HTML, f"<title>{TITLE}</title>".encode()),
    }
    return pages.get(request.target, response("404 Not Found", [], b""))


class HeaderFloodServer(RawServer):
    """The raw server, which streams 100,000 header lines to /headers and counts the bytes it
    managed to send before the client stopped reading."""

    def __init__(self) -> None:
        super().__init__(answers)
        self.flood_sent = 0

    def _handle(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(30)
            head = b""
            try:
                while b"\r\n\r\n" not in head:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    head += chunk
                request = RawRequest(head.split(b"\r\n\r\n", 1)[0])
                with self._lock:
                    self.requests.append(request)
                if request.target != "/headers":
                    conn.sendall(self.answer(request))
                    return
                for part in many_header_lines():
                    conn.sendall(part)
                    self.flood_sent += len(part)
            except OSError:  # the client closed the connection: the bound worked
                return


def test_a_flood_of_header_lines_is_cut_at_the_bound_and_recorded_once(tmp_path: Path) -> None:
    data, hosts = tmp_path / "data", tmp_path / "hosts"
    write_hosts_file(hosts, ["raw.test"])
    server = HeaderFloodServer()
    with server:
        args = [
            "crawl", f"http://raw.test:{server.port}/", "--data-dir", str(data),
            "--hosts-file", str(hosts), "--allow-private", "--delay", "0", "--workers", "1",
            "-q", "-s", "LINKGRAPH_RETRY_BACKOFF=0.1",
        ]  # fmt: skip
        proc = subprocess.run(
            [sys.executable, "-c", WRAPPER, *LINKGRAPH, *args],
            capture_output=True, text=True, timeout=600, cwd=ROOT,
            env=dict(os.environ, PYTHONUNBUFFERED="1"),
        )  # fmt: skip
        targets = server.targets()
        flood_sent = server.flood_sent
    rss_kib, status = proc.stdout.split()[-2:]
    assert status == "0", f"the crawl exited {status}\n{proc.stdout}\n{proc.stderr}"
    # fetched once: the same server sends the same head again, so it is not retried
    assert Counter(targets) == {t: 1 for t in ("/robots.txt", "/", "/b", *LINKED)}
    assert MAX_HEADER_BYTES < flood_sent < MAX_HEADER_BYTES + SOCKET_SLACK
    assert int(rss_kib) / 1024 < MAX_RSS_MB
    base = f"http://raw.test:{server.port}"
    pages = query(data, "SELECT url, status, error, location, length(title), links FROM pages")
    assert sorted(pages) == sorted([
        (f"{base}/", 200, "", "", 0, len(LINKED)),
        (f"{base}/a", 200, "", "", 0, 1),
        (f"{base}/b", 200, "", "", 0, 0),
        (f"{base}/headers", 0, f"invalid response: headers over {MAX_HEADER_BYTES} bytes",
         "", 0, 0),
        (f"{base}/far", 301, f"links to URLs over {MAX_URL} characters not recorded: 1", "", 0, 0),
        (f"{base}/title", 200, "", "", MAX_TITLE, 0),
        (f"{base}/at-bound", 200, "", "", 0, 0),
        (f"{base}/over-bound", 0, f"invalid response: headers over {MAX_HEADER_BYTES} bytes",
         "", 0, 0),
    ])  # fmt: skip
    links = query(data, "SELECT src_url, dst_url FROM links")
    assert sorted(links) == sorted(
        [(f"{base}/", f"{base}{target}") for target in LINKED] + [(f"{base}/a", f"{base}/b")]
    )


def test_a_title_is_cut_at_the_anchor_bound_at_a_character_boundary() -> None:
    html = "<title>  Ünïcode \n   títle  " + "é" * 50 + "</title>"
    page = extract(html.encode(), "https://example.com/", limits=Limits(anchor_length=12))
    assert page.title == "Ünïcode títl"
    page = extract(html.encode(), "https://example.com/", limits=Limits(anchor_length=0))
    assert page.title == "Ünïcode títle " + "é" * 50  # 0: no bound
    long_title = extract(f"<title>{TITLE}</title>".encode(), "https://example.com/").title
    assert long_title == TITLE[:MAX_TITLE]
