"""The virtual-host server (keep-alive, concurrency, delays, robustness) and the demo web."""

from __future__ import annotations

import http.client
import logging
import re
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
import tldextract

from crawler.demo.demoweb import demo_web
from crawler.demo.server import LocalWebServer, Resource
from crawler.demo.web import StaticWeb

ROOT = Path(__file__).resolve().parents[1]


class _TinyWeb:
    """Hosts a.test and b.test; /slow answers after 0.3 s; /boom raises."""

    def resolve(self, host: str, path: str, port: int) -> Resource | None:
        if host not in ("a.test", "b.test"):
            return None
        if path == "/boom":
            raise RuntimeError("broken page")
        delay = 0.3 if path == "/slow" else 0.0
        body = f"<a href='http://b.test:{port}/'>{host}{path}</a>".encode()
        return Resource(200, [("Content-Type", "text/html")], body, delay)

    def hosts(self) -> list[str]:
        return ["a.test", "b.test"]


@pytest.fixture
def server():
    with LocalWebServer(_TinyWeb()) as srv:
        yield srv


def _request(conn: http.client.HTTPConnection, host: str, path: str, method: str = "GET"):
    conn.request(method, path, headers={"Host": host, "User-Agent": "ua/1"})
    resp = conn.getresponse()
    return resp.status, resp.getheaders(), resp.read()


def test_virtual_hosts_keep_alive_and_log(server: LocalWebServer) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    status, _, body = _request(conn, f"A.Test:{server.port}", "/x?y=1")
    assert (
        status == 200
        and body == f"<a href='http://b.test:{server.port}/'>a.test/x?y=1</a>".encode()
    )
    sock = conn.sock
    assert _request(conn, "b.test", "/")[0] == 200
    assert conn.sock is sock  # the same connection served both
    assert _request(conn, "c.test", "/")[0] == 404
    status, headers, body = _request(conn, "a.test", "/x", "HEAD")
    get_length = len(f"<a href='http://b.test:{server.port}/'>a.test/x</a>")
    assert body == b"" and dict(headers)["Content-Length"] == str(get_length)
    conn.close()
    log = server.requests()
    assert [(r.host, r.path, r.status) for r in log[:3]] == [
        ("a.test", "/x?y=1", 200),
        ("b.test", "/", 200),
        ("c.test", "/", 404),
    ]
    assert all(r.user_agent == "ua/1" and r.started <= r.finished <= time.monotonic() for r in log)


def test_concurrent_clients_and_slow_pages(server: LocalWebServer) -> None:
    errors: list[BaseException] = []

    def client(n: int) -> None:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
            for i in range(20):
                assert _request(conn, "a.test", f"/{n}/{i}")[0] == 200
            conn.close()
        except BaseException as exc:
            errors.append(exc)

    slow = threading.Thread(
        target=lambda: _request(
            http.client.HTTPConnection("127.0.0.1", server.port, timeout=5), "a.test", "/slow"
        )
    )
    slow.start()
    threads = [threading.Thread(target=client, args=(n,)) for n in range(32)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and time.monotonic() - started < 5
    slow.join()
    entry = next(r for r in server.requests() if r.path == "/slow")
    assert entry.finished - entry.started >= 0.29  # the delay held only its own connection
    assert len(server.requests()) == 32 * 20 + 1


def test_pipelined_requests_are_answered_in_order(server: LocalWebServer) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        heads = [f"GET {p} HTTP/1.1\r\nHost: a.test\r\n\r\n" for p in ("/slow", "/1", "/2")]
        sock.sendall("".join(heads).encode() + b"GET /3 HTTP/1.1\r\nHost: a.test\r\n")
        sock.sendall(b"Connection: close\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    bodies = re.findall(rb"a\.test(/\w+)</a>", data)
    assert bodies == [b"/slow", b"/1", b"/2", b"/3"]


def test_robust_against_bad_clients(server: LocalWebServer, caplog) -> None:
    caplog.set_level(logging.WARNING)
    # a TLS ClientHello on the plain port
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\0" * 64)
        assert sock.recv(100).startswith(b"HTTP/1.1 400")
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nno colon here\r\n\r\n")
        assert sock.recv(100).startswith(b"HTTP/1.1 400")
    # clients that go away mid-request or before a delayed answer
    for payload in (b"GET / HTTP/1.1\r\nHost: a", b"GET /slow HTTP/1.1\r\nHost: a.test\r\n\r\n"):
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        sock.sendall(payload)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\1\0\0\0\0\0\0\0")  # RST
        sock.close()
    time.sleep(0.4)
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    assert _request(conn, "a.test", "/boom")[0] == 500  # a raising Web is a 500
    conn.close()
    problems = [r for r in caplog.records if r.name == "asyncio"]
    assert not problems


def test_cli_serves_a_web_in_its_own_process(tmp_path: Path) -> None:
    hosts, seeds = tmp_path / "hosts", tmp_path / "seeds"
    cmd = [sys.executable, "-m", "crawler.demo", "serve"]
    cmd += ["--hosts-file", str(hosts), "--seeds-file", str(seeds)]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        seed = urlsplit(seeds.read_text().split()[0])
        assert seed.port == port and str(seed.hostname) in hosts.read_text()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        assert _request(conn, seed.netloc, seed.path)[0] == 200
        conn.close()
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0


# -- the demo web ---------------------------------------------------------------------------------
def _crawl(web: StaticWeb, seeds: list[str], port: int) -> dict[str, bytes]:
    """Every page reachable from the seeds through href attributes (robots ignored)."""
    seen, queue, bodies = set(seeds), deque(seeds), {}
    while queue:
        url = queue.popleft()
        parts = urlsplit(url)
        found = web.resolve(parts.hostname or "", parts.path, port)
        assert found is not None and found.status == 200, url
        bodies[url] = found.body
        for href in re.findall(rb'href="([^"]+)"', found.body):
            target = urljoin(url, href.decode())
            if target not in seen:
                seen.add(target)
                queue.append(target)
    return bodies


def test_demo_web() -> None:
    web = demo_web()
    again = demo_web()
    assert all(web.resolve(h, p, 1) == again.resolve(h, p, 1) for h, p in web.resources)
    extract = tldextract.TLDExtract(suffix_list_urls=(), include_psl_private_domains=True)
    domains = {extract(h).top_domain_under_public_suffix for h in web.hosts()}
    assert len(web.hosts()) >= 50 and 25 <= len(domains) <= 35
    assert any(h.endswith(".github.io") for h in web.hosts())
    assert any(h.endswith(".co.uk") for h in web.hosts())
    pages = _crawl(web, web.seeds(8080), 8080)
    html_pages = [u for u in pages if not u.endswith("/robots.txt")]
    assert len(html_pages) >= 1000
    assert all(web.resolve(h, "/robots.txt", 1) is not None for h in web.hosts())
    everything = b"".join(pages.values())
    for rel in (b'rel="nofollow"', b'rel="sponsored"', b'rel="ugc"'):
        assert rel in everything
    assert all(b"<title>" in body for body in pages.values())
