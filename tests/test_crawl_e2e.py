"""End to end: crawl the test web with the embedded Valkey and chDB through the real CLI, then
compare the index with the test web's ground truth, exactly, and the server's own request log
with the politeness rules."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from itertools import pairwise
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from crawler.demo.server import LocalWebServer, RequestLog, write_hosts_file
from tests.conftest import (
    SHORT_BACKOFF,
    CrawledWeb,
    crawl_test_web,
    query,
    run_linkgraph,
)

DELAY = 0.2
# The server logs `finished` just before writing, the crawler releases the host on receipt.
CLOCK_SLACK = 0.01


Crawl = CrawledWeb


@pytest.fixture(scope="module")
def crawl(tmp_path_factory: pytest.TempPathFactory) -> Crawl:
    return crawl_test_web(tmp_path_factory.mktemp("e2e"), "e2e", DELAY)


def test_pages_equal_ground_truth(crawl: Crawl) -> None:
    rows = query(crawl.data_dir, "SELECT url, status, error FROM pages WHERE job = 'e2e'")
    urls = [r[0] for r in rows]
    assert len(urls) == len(set(urls)), "a page was recorded twice"
    assert {r[0]: r[1] for r in rows} == crawl.web.expected_pages(crawl.port)
    assert {r[0]: r[2] for r in rows if r[2]} == crawl.web.expected_errors(crawl.port)


def test_page_level_nofollow_is_recorded(crawl: Crawl) -> None:
    rows = query(crawl.data_dir, "SELECT url FROM pages WHERE nofollow = 1")
    assert {r[0] for r in rows} == crawl.web.expected_nofollow_pages(crawl.port)


def test_every_link_occurrence_is_recorded(crawl: Crawl) -> None:
    rows = query(
        crawl.data_dir,
        "SELECT src_url, dst_url, anchor, nofollow, ugc, sponsored, tag, type FROM links "
        "ORDER BY src_url, dst_url, anchor",
    )
    got = sorted((s, d, a, bool(n), bool(u), bool(sp), t, k) for s, d, a, n, u, sp, t, k in rows)
    want = sorted(
        (s, d, a, "nofollow" in rel, "ugc" in rel, "sponsored" in rel, tag, kind)
        for s, d, a, rel, tag, kind in crawl.web.expected_typed_links(crawl.port)
    )
    assert got == want
    assert {row[-1] for row in got} == {
        "text", "image", "area", "redirect", "canonical", "hreflang", "frame", "form", "sitemap"
    }  # fmt: skip
    assert {(t, k) for *_, t, k in got if k in ("canonical", "hreflang")} == {
        ("link", "canonical"), ("link", "hreflang"), ("header", "canonical"), ("header", "hreflang")
    }  # fmt: skip


def test_sitemaps_are_read_and_what_they_list_is_queued_at_depth_0(crawl: Crawl) -> None:
    at = f"http://maps.example.net:{crawl.port}"
    rows = query(crawl.data_dir, f"SELECT url, depth FROM pages WHERE url LIKE '{at}/%'")
    depths = {url.removeprefix(at): depth for url, depth in rows}
    listed = ("/sitemap_index.xml", "/sitemap.txt", "/sitemap-pages.xml.gz", "/sitemap-news.xml",
              "/published-only", "/news/1", "/text-only", "/private/draft")  # fmt: skip
    assert {path: depths.get(path) for path in listed} == dict.fromkeys(listed, 0)
    # which URLs the site publishes but does not link: listed by a sitemap, reached by no link
    unlinked = query(
        crawl.data_dir,
        "SELECT DISTINCT dst_url FROM links WHERE type = 'sitemap' AND dst_url NOT IN "
        "(SELECT dst_url FROM links WHERE type != 'sitemap') ORDER BY dst_url",
    )
    assert [url for (url,) in unlinked] == [
        f"{at}/news/1", f"{at}/private/draft", f"{at}/published-only", f"{at}/sitemap-news.xml",
        f"{at}/sitemap-pages.xml.gz", f"{at}/sitemap_index.xml", f"{at}/text-only",
    ]  # fmt: skip


def test_backlinks_equal_ground_truth(crawl: Crawl) -> None:
    rows = query(
        crawl.data_dir, "SELECT src_url, dst_url, follow, anchor, anchors, types FROM backlinks"
    )
    got = {(s, d, bool(f), a) for s, d, f, a, _, _ in rows}
    assert len(rows) == len(got)
    assert got == crawl.web.expected_backlinks(crawl.port)
    expected_rows = crawl.web.expected_backlink_rows(crawl.port)
    assert {(s, d): tuple(anchors) for s, d, _, _, anchors, _ in rows} == {
        key: row.anchors for key, row in expected_rows.items()
    }
    assert {(s, d): tuple(types) for s, d, _, _, _, types in rows} == {
        key: row.types for key, row in expected_rows.items()
    }


def test_domain_inbound_equals_ground_truth(crawl: Crawl) -> None:
    rows = query(
        crawl.data_dir,
        "SELECT dst_domain, referring_domains, backlinks, follow_backlinks, nofollow_backlinks "
        "FROM domain_inbound",
    )
    assert {r[0]: tuple(r[1:]) for r in rows} == crawl.web.expected_domain_inbound()


def test_anchors_equal_ground_truth(crawl: Crawl) -> None:
    rows = query(
        crawl.data_dir, "SELECT dst_domain, anchor, backlinks, referring_domains FROM anchors"
    )
    assert {(r[0], r[1]): (r[2], r[3]) for r in rows} == crawl.web.expected_anchors()


def test_the_server_saw_exactly_the_expected_requests(crawl: Crawl) -> None:
    seen = [(e.host, e.path) for e in crawl.log]
    pages = [r for r in seen if r not in crawl.web.robots_paths()]
    assert not set(seen) & crawl.web.disallowed_paths(), "a robots-disallowed URL was requested"
    # each page once, but a 5xx answer: fetched again LINKGRAPH_RETRY_TIMES times
    assert Counter(pages) == crawl.web.expected_fetches(), "a page fetched twice or not"
    assert crawl.web.expected_fetches()[("www.example.com", "/broken")] == 4
    assert all(e.user_agent.startswith("linkgraph/") for e in crawl.log)


def by_host(log: list[RequestLog]) -> dict[str, list[RequestLog]]:
    hosts: dict[str, list[RequestLog]] = defaultdict(list)
    for entry in sorted(log, key=lambda e: e.started):
        hosts[entry.host].append(entry)
    return hosts


def test_robots_txt_comes_before_any_page_of_a_host(crawl: Crawl) -> None:
    for host, entries in by_host(crawl.log).items():
        assert entries[0].path == "/robots.txt", host
        assert sum(e.path == "/robots.txt" for e in entries) == 1, f"{host}: robots.txt twice"


def test_per_host_delay_and_one_request_in_flight(crawl: Crawl) -> None:
    delays = crawl.web.crawl_delays()
    checked = 0
    for host, entries in by_host(crawl.log).items():
        delay = max(DELAY, delays.get(host, 0.0))
        for before, after in pairwise(entries):
            gap = after.started - before.finished
            assert gap >= delay - CLOCK_SLACK, f"{host}: {before.path} -> {after.path} {gap:.3f}s"
            checked += 1
    assert checked > 50
    assert set(delays) <= set(by_host(crawl.log)), "a Crawl-delay host was never crawled"


def test_recrawl_keeps_aggregates_exact(crawl: Crawl, tmp_path: Path) -> None:
    """A second job over the same web adds a second row per fetch and per link occurrence, but
    not one backlink: every aggregate stays equal to the ground truth."""
    hosts_file = tmp_path / "hosts"
    web = crawl.web
    with LocalWebServer(web, port=crawl.port) as server:
        write_hosts_file(hosts_file, web.hosts())
        run_linkgraph(
            "crawl", *web.seeds(server.port), "--job", "e2e-again", "--data-dir",
            str(crawl.data_dir), "--hosts-file", str(hosts_file), "--allow-private",
            "--delay", "0", "-q", *SHORT_BACKOFF,
        )  # fmt: skip
    pages = query(crawl.data_dir, "SELECT job, count() FROM pages GROUP BY job ORDER BY job")
    assert pages == [("e2e", len(web.expected_pages(crawl.port)))] * 1 + [
        ("e2e-again", len(web.expected_pages(crawl.port)))
    ]
    rows = query(crawl.data_dir, "SELECT src_url, dst_url, follow, anchor FROM backlinks")
    assert {(s, d, bool(f), a) for s, d, f, a in rows} == web.expected_backlinks(crawl.port)
    inbound = query(
        crawl.data_dir,
        "SELECT dst_domain, referring_domains, backlinks, follow_backlinks, nofollow_backlinks "
        "FROM domain_inbound",
    )
    assert {r[0]: tuple(r[1:]) for r in inbound} == web.expected_domain_inbound()
    seen = query(crawl.data_dir, "SELECT countIf(first_seen < last_seen), count() FROM backlinks")
    assert seen[0][0] == seen[0][1] == len(web.expected_backlinks(crawl.port))


def report(crawl: Crawl, *args: str) -> list[dict[str, object]]:
    proc = run_linkgraph(*args, "--data-dir", str(crawl.data_dir), "--format", "JSONEachRow",
                         "--limit", "1000")  # fmt: skip
    return [json.loads(line) for line in proc.stdout.splitlines()]


def test_reports_agree_with_ground_truth(crawl: Crawl) -> None:
    web, port = crawl.web, crawl.port
    inbound = web.expected_domain_inbound()
    top = report(crawl, "top")
    assert {r["domain"]: r["referring_domains"] for r in top} == {
        d: v[0] for d, v in inbound.items()
    }
    counts = [(r["referring_domains"], r["backlinks"]) for r in top]
    assert counts == sorted(counts, reverse=True)
    domain = max(inbound, key=lambda d: (inbound[d][1], d))  # the most linked domain
    domains = web.domains()
    expected = {(s, d) for s, d, _, _ in web.expected_backlinks(port)
                if domains[urlsplit(d).hostname or ""] == domain}  # fmt: skip
    rows = report(crawl, "backlinks", domain)
    assert {(r["src_url"], r["dst_url"]) for r in rows} == expected
    refdomains = report(crawl, "refdomains", domain.upper())  # case does not matter
    assert sum(int(str(r["backlinks"])) for r in refdomains) == inbound[domain][1]
    assert len(refdomains) == inbound[domain][0]
    anchors = report(crawl, "anchors", domain)
    assert {(domain, r["anchor"]): (r["backlinks"], r["referring_domains"]) for r in anchors} == {
        k: v for k, v in web.expected_anchors().items() if k[0] == domain
    }
    # a host name (not a registered domain) filters on that host only
    host = urlsplit(next(iter(expected))[1]).hostname or ""
    rows = report(crawl, "backlinks", host)
    assert {(r["src_url"], r["dst_url"]) for r in rows} == {
        (s, d) for s, d in expected if urlsplit(d).hostname == host
    }
