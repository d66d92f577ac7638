"""Retries: what may change is fetched again, a bounded number of times, and its last attempt is
recorded as gone or unreachable; what cannot change (an invalid response) is fetched once.

Real servers on 127.0.0.1 (LocalWebServer, and a raw socket server for what it never sends), a
real NXDOMAIN from the system resolver for a name under the reserved `.invalid` TLD, and a port
with nothing listening for refused connections.
"""

from __future__ import annotations

import json
import socket
import threading
from collections import Counter
from pathlib import Path

import pytest
from twisted.python.failure import Failure

from crawler.demo.server import LocalWebServer, write_hosts_file
from crawler.demo.web import Resource
from crawler.failures import NameNotFound, describe_failure
from crawler.resolver import lookup_ipv4
from tests.conftest import query, run_cli, run_linkgraph
from tests.rawserver import RawRequest, RawServer, response

HTML = [("Content-Type", "text/html")]
RETRIES = 2  # LINKGRAPH_RETRY_TIMES for these crawls
NO_ROBOTS = Resource(404, [], b"")


class FailingWeb:
    """hub.test links to pages that are gone (404, 410), down (500 every time), flaky (502
    once, then 200), to a name that does not exist, a host that closes every connection
    unanswered (drop.test, on the raw server) and a port where nothing listens."""

    def __init__(self, drop_port: int, closed_port: int) -> None:
        self.drop_port = drop_port
        self.closed_port = closed_port
        self.lock = threading.Lock()
        self.flaky_hits = 0

    def hosts(self) -> list[str]:
        return ["hub.test", "gone.test", "down.test", "flaky.test", "drop.test", "refused.test"]

    def links(self, port: int) -> list[str]:
        return [
            f"http://gone.test:{port}/missing",
            f"http://gone.test:{port}/removed",
            f"http://down.test:{port}/",
            f"http://flaky.test:{port}/",
            f"http://nx.invalid:{port}/",
            f"http://drop.test:{self.drop_port}/",
            f"http://refused.test:{self.closed_port}/",
        ]

    def resolve(self, host: str, path: str, port: int) -> Resource | None:
        if path == "/robots.txt":
            return NO_ROBOTS
        if host == "hub.test":
            body = "".join(f'<a href="{u}">x</a>' for u in self.links(port))
            return Resource(200, HTML, body.encode())
        if (host, path) == ("gone.test", "/removed"):
            return Resource(410, HTML, b"gone for good")
        if host == "down.test":
            return Resource(500, HTML, b"oops")
        if host == "flaky.test":
            with self.lock:
                self.flaky_hits += 1
                if self.flaky_hits == 1:
                    return Resource(502, HTML, b"bad gateway")
            return Resource(200, HTML, b"<title>back</title>")
        return None  # gone.test/missing: 404


def closed_port() -> int:
    """A loopback port with nothing listening (connections to it are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def crawl(seed: str, data: Path, hosts_file: Path, *extra: str) -> None:
    run_linkgraph(
        "crawl", seed, "--data-dir", str(data), "--hosts-file", str(hosts_file),
        "--allow-private", "--delay", "0", "--workers", "1", "-q",
        "-s", f"LINKGRAPH_RETRY_TIMES={RETRIES}", "-s", "LINKGRAPH_RETRY_BACKOFF=0.1", *extra,
    )  # fmt: skip


def test_transient_failures_are_retried_then_recorded_as_gone_or_unreachable(
    tmp_path: Path,
) -> None:
    data, hosts_file = tmp_path / "data", tmp_path / "hosts"
    with (
        RawServer(lambda request: b"") as drop,
        LocalWebServer(web := FailingWeb(drop.port, closed_port())) as server,
    ):
        write_hosts_file(hosts_file, web.hosts())  # not nx.invalid: the DNS says it does not exist
        port = server.port
        crawl(f"http://hub.test:{port}/", data, hosts_file)
        log = server.requests()
        drop_targets = drop.targets()
    fetches = Counter((e.host, e.path) for e in log if e.path != "/robots.txt")
    assert fetches == {
        ("hub.test", "/"): 1,
        ("gone.test", "/missing"): 1,  # a 404 and a 410 are not retried
        ("gone.test", "/removed"): 1,
        ("down.test", "/"): 1 + RETRIES,  # a 500 every time: retried, then recorded
        ("flaky.test", "/"): 2,  # a 502, then the page
    }
    robots = Counter(e.host for e in log if e.path == "/robots.txt")
    assert robots == {h: 1 for h in ("hub.test", "gone.test", "down.test", "flaky.test")}
    # drop.test closes every connection unanswered: its robots.txt is tried once per attempt
    assert drop_targets == ["/robots.txt"] * (1 + RETRIES)

    pages = query(data, "SELECT url, status, error FROM pages")
    assert len(pages) == 8, "each URL is recorded once, with its last attempt"
    recorded = {url.replace(f":{port}/", "/"): (status, error) for url, status, error in pages}
    drop_url, refused_url = web.links(port)[5:]
    assert recorded == {
        "http://hub.test/": (200, ""),
        "http://gone.test/missing": (404, ""),
        "http://gone.test/removed": (410, ""),
        "http://down.test/": (500, ""),
        "http://flaky.test/": (200, ""),
        "http://nx.invalid/": (0, "robots: dns: no such name"),
        drop_url: (0, "robots: connection lost"),
        refused_url: (0, "robots: connection refused"),
    }

    broken = query(data, "SELECT dst_url, state FROM broken_backlinks")
    assert {url.replace(f":{port}/", "/"): state for url, state in broken} == {
        "http://gone.test/missing": "gone",
        "http://gone.test/removed": "gone",
        "http://nx.invalid/": "gone",
        "http://down.test/": "unreachable",
        drop_url: "unreachable",
        refused_url: "unreachable",
    }
    status, out, err = run_cli("broken", "nx.invalid", "--data-dir", str(data),
                               "--format", "JSONEachRow")  # fmt: skip
    assert status == 0, err
    rows = [json.loads(line) for line in out.splitlines()]
    assert [(r["dst_url"], r["state"], r["error"]) for r in rows] == [
        (f"http://nx.invalid:{port}/", "gone", "robots: dns: no such name")
    ]


BROKEN_STATUS_LINE = b"HTTP/1.1 OK-ish\r\nContent-Length: 0\r\n\r\n"
BAD_CHUNKING = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"zz\r\nhello\r\n0\r\n\r\n"
)


def invalid_answers(request: RawRequest) -> bytes:
    if request.target == "/":
        return response("200 OK", HTML, b'<a href="/status">s</a> <a href="/chunk">c</a>')
    if request.target == "/status":
        return BROKEN_STATUS_LINE
    if request.target == "/chunk":
        return BAD_CHUNKING
    return response("404 Not Found", [], b"")


def test_invalid_responses_are_recorded_once_and_not_retried(tmp_path: Path) -> None:
    data, hosts_file = tmp_path / "data", tmp_path / "hosts"
    write_hosts_file(hosts_file, ["raw.test"])
    with RawServer(invalid_answers) as server:
        crawl(f"http://raw.test:{server.port}/", data, hosts_file)
        targets = server.targets()
    assert Counter(targets) == {"/robots.txt": 1, "/": 1, "/status": 1, "/chunk": 1}
    pages = query(data, "SELECT url, status, error FROM pages")
    assert {(u.rpartition("/")[2], s, e) for u, s, e in pages} == {
        ("", 200, ""),
        ("status", 0, "invalid response: non-integer status code"),
        ("chunk", 0, "invalid response: bad chunked encoding: Chunk-size must be an integer."),
    }
    assert len(pages) == 3


def test_the_resolver_tells_a_name_that_does_not_exist() -> None:
    """getaddrinfo's EAI_NONAME (NXDOMAIN, offline too for the reserved .invalid TLD) is
    NameNotFound, recorded as gone; a lookup that succeeds is an address."""
    with pytest.raises(NameNotFound) as raised:
        lookup_ipv4("no-such-host.invalid")
    assert describe_failure(Failure(raised.value)) == "dns: no such name"
    assert lookup_ipv4("localhost") == "127.0.0.1"
