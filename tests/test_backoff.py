"""Back-off against hosts that push back: 429 with Retry-After, slow answers, and a host that keeps
failing until it is parked and then dropped. A small stateful web served on 127.0.0.1."""

from __future__ import annotations

import threading
from itertools import pairwise
from pathlib import Path

from crawler.demo.server import LocalWebServer, RequestLog, write_hosts_file
from crawler.demo.web import Resource
from tests.conftest import query, run_linkgraph

HTML = [("Content-Type", "text/html")]
FLAKY_PAGES = 8


class PushyWeb:
    """hub links to everything; busy answers 429 (Retry-After: 1) twice before serving; slow
    takes 1.2 s to answer; flaky always fails with 500 (which is retried, like a 429)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.busy_hits = 0

    def hosts(self) -> list[str]:
        return ["hub.test", "busy.test", "slow.test", "flaky.test"]

    def resolve(self, host: str, path: str, port: int) -> Resource | None:
        if path == "/robots.txt":
            return Resource(404, [], b"")
        if host == "hub.test":
            links = [f"http://busy.test:{port}/", f"http://slow.test:{port}/"]
            links += [f"http://flaky.test:{port}/{i}" for i in range(FLAKY_PAGES)]
            body = "".join(f'<a href="{u}">x</a>' for u in links)
            return Resource(200, HTML, body.encode())
        if host == "busy.test":
            with self.lock:
                self.busy_hits += 1
                if self.busy_hits <= 2:
                    return Resource(429, [("Retry-After", "1")], b"")
            return Resource(200, HTML, b"<title>finally</title>")
        if host == "slow.test":
            link = f'<a href="http://slow.test:{port}/next">next</a>' if path == "/" else ""
            return Resource(200, HTML, link.encode(), delay=1.2)
        if host == "flaky.test":
            return Resource(500, [], b"oops")
        return None


def by_host(log: list[RequestLog], host: str) -> list[RequestLog]:
    return sorted((e for e in log if e.host == host and e.path != "/robots.txt"),
                  key=lambda e: e.started)  # fmt: skip


def test_hosts_that_push_back_are_backed_off_and_nothing_is_lost(tmp_path: Path) -> None:
    web = PushyWeb()
    data, hosts_file = tmp_path / "data", tmp_path / "hosts"
    with LocalWebServer(web) as server:
        write_hosts_file(hosts_file, web.hosts())
        run_linkgraph(
            "crawl", f"http://hub.test:{server.port}/", "--data-dir", str(data), "--hosts-file",
            str(hosts_file), "--allow-private", "--delay", "0.1", "--workers", "1", "-q",
            "-s", "LINKGRAPH_SLOW_SECONDS=1", "-s", "LINKGRAPH_RETRY_BACKOFF=0.2",
            "-s", "LINKGRAPH_PARK_AFTER=2", "-s", "LINKGRAPH_PARK_SECONDS=0.3",
            "-s", "LINKGRAPH_DROP_AFTER=4",
        )  # fmt: skip
        log = server.requests()
    pages = dict(query(data, "SELECT replaceRegexpOne(url, ':[0-9]+/', '/'), (status, error) "
                             "FROM pages"))  # fmt: skip
    # 429 twice, then served: recorded once, as the 200 it finally was
    busy = by_host(log, "busy.test")
    assert [e.status for e in busy] == [429, 429, 200]
    assert all(b.started - a.finished >= 1.0 - 0.01 for a, b in pairwise(busy))
    assert pages["http://busy.test/"] == (200, "")
    # a 1.2 s answer stretches the host's delay from 0.1 s to the latency
    slow = by_host(log, "slow.test")
    assert len(slow) == 2 and slow[1].started - slow[0].finished >= 1.2 - 0.01
    # flaky fails 4 times in a row (its first page, a 500, fetched again 3 times): parked
    # after 2, dropped after 4; every one of its URLs is recorded, the unfetched ones with
    # the reason
    flaky = by_host(log, "flaky.test")
    assert [e.path for e in flaky] == ["/0"] * 4
    gaps = [b.started - a.finished for a, b in pairwise(flaky)]
    assert gaps[-1] >= 0.3 * 2 - 0.01  # parked after 2 failures, twice as long after 3
    flaky_pages = {u: v for u, v in pages.items() if u.startswith("http://flaky.test/")}
    assert len(flaky_pages) == FLAKY_PAGES
    statuses = sorted(v for v in flaky_pages.values())
    dropped = "host dropped after 4 failures in a row (last: HTTP 500)"
    assert statuses == sorted([(500, "")] + [(0, dropped)] * (FLAKY_PAGES - 1))
    assert flaky_pages["http://flaky.test/0"] == (500, "")


class BadRetryAfterWeb:
    """nan.test answers 503 with `Retry-After: NaN` once, far.test 429 with a Retry-After of a
    day (beyond the clamp) once; then both serve their page."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.hits: dict[str, int] = {}

    def hosts(self) -> list[str]:
        return ["hub.test", "nan.test", "far.test"]

    def resolve(self, host: str, path: str, port: int) -> Resource | None:
        if path == "/robots.txt":
            return Resource(404, [], b"")
        if host == "hub.test":
            body = f'<a href="http://nan.test:{port}/">n</a><a href="http://far.test:{port}/">f</a>'
            return Resource(200, HTML, body.encode())
        with self.lock:
            self.hits[host] = self.hits.get(host, 0) + 1
            first = self.hits[host] == 1
        if first and host == "nan.test":
            return Resource(503, [("Retry-After", "NaN")], b"")
        if first and host == "far.test":
            return Resource(429, [("Retry-After", "86400")], b"")
        return Resource(200, HTML, b"<title>served</title>")


def test_an_invalid_or_too_long_retry_after_gets_the_default_backoff(tmp_path: Path) -> None:
    web = BadRetryAfterWeb()
    data, hosts_file = tmp_path / "data", tmp_path / "hosts"
    backoff = 0.5
    with LocalWebServer(web) as server:
        write_hosts_file(hosts_file, web.hosts())
        run_linkgraph(
            "crawl", f"http://hub.test:{server.port}/", "--data-dir", str(data), "--hosts-file",
            str(hosts_file), "--allow-private", "--delay", "0.1", "--workers", "1", "-q",
            "-s", f"LINKGRAPH_RETRY_BACKOFF={backoff}",
        )  # fmt: skip
        log = server.requests()
    pages = dict(query(data, "SELECT replaceRegexpOne(url, ':[0-9]+/', '/'), (status, error) "
                             "FROM pages"))  # fmt: skip
    for host, refusal in (("nan.test", 503), ("far.test", 429)):
        fetches = by_host(log, host)
        assert [e.status for e in fetches] == [refusal, 200]
        assert fetches[1].started - fetches[0].finished >= backoff - 0.01  # the default back-off
        assert pages[f"http://{host}/"] == (200, "")
    assert len(pages) == 3
