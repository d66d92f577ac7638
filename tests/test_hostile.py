"""Hostile pages cost a crawl bounded time and memory, and are recorded once with what they lost.

One crawl of the hostile test web (tests/hostileweb.py) with two workers, on the session's
Valkey (so its SLOWLOG shows every command) and chDB. The crawl runs under a small wrapper
process that reports the peak RSS of the crawl's process tree.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis

from crawler.demo.server import LocalWebServer, write_hosts_file
from tests.conftest import LINKGRAPH, ROOT, query
from tests.hostileweb import ANCHOR_WORDS, HostileWeb, good_links, url

FOLLOWED = 1500  # LINKGRAPH_MAX_LINKS_FOLLOWED for this crawl: 6 frontier calls of 250 URLs
CHUNK = 250  # LINKGRAPH_QUEUE_CHUNK
# A frontier call of CHUNK URLs: 3 arguments per URL, and a few for the script, its keys, the time
CHUNK_ARGS = (3 * CHUNK, 3 * CHUNK + 20)
MAX_COMMAND_MS = 25  # before the bounds: one call of 1.5 M arguments held Valkey for 14 s
MAX_RSS_MB = 1200  # the crawl's largest process (before the bounds: 2.66 GB on links.test/)
# Runs the crawl and prints the largest peak RSS of any process of its tree, in KiB.
WRAPPER = (
    "import resource, subprocess, sys\n"
    "status = subprocess.run(sys.argv[1:]).returncode\n"
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, status)\n"
)


@dataclass(frozen=True)
class HostileCrawl:
    port: int
    data: Path
    peak_rss_mb: float
    slowlog: list[dict[str, Any]]
    stderr: str

    def pages(self, host: str) -> dict[str, tuple[int, str, int]]:
        """url -> (status, error, links) of every row of the host's pages, checked unique."""
        rows = query(
            self.data, f"SELECT url, status, error, links FROM pages WHERE host = '{host}'"
        )
        assert len(rows) == len({r[0] for r in rows}), f"a page of {host} was recorded twice"
        return {u: (s, e, n) for u, s, e, n in rows}

    def links_from(self, src: str) -> list[tuple[str, int]]:
        rows = query(
            self.data, f"SELECT dst_url, length(anchor) FROM links WHERE src_url = '{src}'"
        )
        return sorted(rows)


def argument_count(entry: dict[str, Any]) -> int:
    """Arguments of a SLOWLOG command: it shows 31 and then '... (N more arguments)'."""
    words = entry["command"].split(b" ")
    if words[-1].endswith(b"arguments)") and len(words) >= 4:
        return 31 + int(words[-3].lstrip(b"("))
    return len(words)


@pytest.fixture(scope="module")
def crawl(redis_server: str, tmp_path_factory: pytest.TempPathFactory) -> HostileCrawl:
    tmp = tmp_path_factory.mktemp("hostile")
    client = redis.Redis.from_url(redis_server)
    client.flushdb()
    client.config_set("slowlog-log-slower-than", 0)  # every command, with its time
    client.config_set("slowlog-max-len", 1_000_000)
    client.slowlog_reset()
    web = HostileWeb()
    try:
        with LocalWebServer(web) as server:
            write_hosts_file(tmp / "hosts", web.hosts())
            args = [
                "crawl", *web.seeds(server.port), "--job", "hostile", "--data-dir",
                str(tmp / "data"), "--redis", redis_server, "--hosts-file", str(tmp / "hosts"),
                "--allow-private", "--delay", "0", "--workers", "2", "-q",
                "-s", f"LINKGRAPH_MAX_LINKS_FOLLOWED={FOLLOWED}",
            ]  # fmt: skip
            proc = subprocess.run(
                [sys.executable, "-c", WRAPPER, *LINKGRAPH, *args],
                capture_output=True, text=True, timeout=600, cwd=ROOT,
                env=dict(os.environ, PYTHONUNBUFFERED="1"),
            )  # fmt: skip
        slowlog = client.slowlog_get(-1)
    finally:
        client.config_set("slowlog-log-slower-than", 10000)
        client.config_set("slowlog-max-len", 128)
        client.slowlog_reset()
        client.close()
    rss_kib, status = proc.stdout.split()[-2:]
    assert status == "0", f"the crawl exited {status}\n{proc.stdout}\n{proc.stderr}"
    return HostileCrawl(server.port, tmp / "data", int(rss_kib) / 1024, slowlog, proc.stderr)


def test_every_good_page_is_indexed_once_with_its_links(crawl: HostileCrawl) -> None:
    expected = good_links(crawl.port)
    assert crawl.pages("good.test") == {u: (200, "", len(links)) for u, links in expected.items()}
    for src, links in expected.items():
        assert [dst for dst, _ in crawl.links_from(src)] == sorted(links)


def test_a_page_of_500000_links_records_100000_and_follows_a_bounded_number(
    crawl: HostileCrawl,
) -> None:
    page = url("links.test", "/", crawl.port)
    recorded = crawl.pages("links.test")
    assert recorded.pop(page) == (
        200,
        "100000 links recorded: 400000 more <a>/<area> not read",
        100000,
    )
    assert [dst for dst, _ in crawl.links_from(page)] == sorted(
        url("links.test", f"/l/{i}", crawl.port) for i in range(100_000)
    )
    # its first FOLLOWED links were queued (and refused by robots.txt, so never fetched)
    followed = {url("links.test", f"/l/{i}", crawl.port) for i in range(FOLLOWED)}
    assert recorded == dict.fromkeys(followed, (0, "robots", 0))


def test_no_redis_command_blocks_the_server(crawl: HostileCrawl) -> None:
    assert crawl.slowlog, "the SLOWLOG recorded nothing"
    slowest = max(crawl.slowlog, key=lambda e: e["duration"])
    assert slowest["duration"] < MAX_COMMAND_MS * 1000, slowest["command"][:200]
    # The frontier's queueing script is the one that reads the job's dedupe set.
    adds = [argument_count(e) for e in crawl.slowlog if b":seen " in e["command"][:300]]
    assert max(adds) <= CHUNK_ARGS[1], f"a frontier call with {max(adds)} arguments"
    full_chunks = [n for n in adds if n >= CHUNK_ARGS[0]]
    assert len(full_chunks) == FOLLOWED // CHUNK  # links.test/'s links, in full chunks


def test_deeply_nested_html_is_recorded_once_up_to_the_nesting_bound(crawl: HostileCrawl) -> None:
    page = url("deep.test", "/", crawl.port)
    assert crawl.pages("deep.test") == {
        page: (200, "nested deeper than 512 elements: the rest not parsed", 1)
    }
    assert crawl.links_from(page) == [(url("good.test", "/a", crawl.port), len("before"))]


def test_a_10_mb_href_is_counted_not_stored(crawl: HostileCrawl) -> None:
    page = url("long.test", "/href", crawl.port)
    pages = crawl.pages("long.test")
    assert pages[page] == (200, "links to URLs over 8192 characters not recorded: 1", 1)
    assert crawl.links_from(page) == [(url("good.test", "/c", crawl.port), 1)]


def test_a_10_mb_anchor_is_cut_to_1024_characters(crawl: HostileCrawl) -> None:
    page = url("long.test", "/anchor", crawl.port)
    assert crawl.pages("long.test")[page] == (200, "", 1)
    rows = query(crawl.data, f"SELECT dst_url, anchor FROM links WHERE src_url = '{page}'")
    expected = (ANCHOR_WORDS * 100).strip()[:1024]
    assert rows == [(url("good.test", "/b", crawl.port), expected)]


def test_memory_stays_bounded(crawl: HostileCrawl) -> None:
    assert crawl.peak_rss_mb < MAX_RSS_MB, json.dumps({"peak_rss_mb": crawl.peak_rss_mb})
