"""Sitemaps read as the protocol writes them (XML urlset and index, text, gzip) and as bounded as
hostile pages are (a bomb, an endless index, ten million URLs), and the job's sitemap registry."""

from __future__ import annotations

import gzip
from pathlib import Path

import redis

from crawler.demo.server import LocalWebServer
from crawler.frontier import Frontier
from crawler.items import Link
from crawler.sitemaps import (
    SitemapLimits,
    SitemapRegistry,
    host_sitemaps,
    is_xml_sitemap,
    read_sitemap,
    robots_sitemaps,
    seed_sitemaps,
)
from tests.conftest import query, run_linkgraph
from tests.testweb import TestWeb

NS = 'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'


def urlset(*locs: str) -> bytes:
    entries = "".join(f"<url><loc>{loc}</loc><lastmod>2026-01-01</lastmod></url>" for loc in locs)
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<urlset {NS}>{entries}</urlset>'.encode()


def listed(body: bytes) -> list[tuple[str, str]]:
    return [(link.url, link.tag) for link in read_sitemap(body).links]


def test_an_xml_urlset() -> None:
    body = urlset(
        " https://Example.com/a?x=1&amp;y=2 ", "https://example.com/b#frag", "/rel", "ftp://x/"
    )
    assert read_sitemap(body).links == [
        Link("https://example.com/a?x=1&y=2", "", frozenset(), "url", "sitemap"),
        Link("https://example.com/b", "", frozenset(), "url", "sitemap"),
    ]  # a relative or non-http(s) <loc> is no URL


def test_an_index_gzipped() -> None:
    index = (
        f"<sitemapindex {NS}><sitemap><loc>https://example.com/s1.xml.gz</loc></sitemap>"
        "<sitemap><loc>https://example.com/s2.xml</loc></sitemap></sitemapindex>"
    ).encode()
    assert listed(gzip.compress(index)) == [
        ("https://example.com/s1.xml.gz", "index"),
        ("https://example.com/s2.xml", "index"),
    ]


def test_a_text_sitemap() -> None:
    body = b"https://example.com/one\r\n\n  https://example.com/two  \nnot a url\nhttps://ex\xffample.com/\n"
    assert listed(body) == [
        ("https://example.com/one", "line"),
        ("https://example.com/two", "line"),
    ]


def test_not_a_sitemap() -> None:
    page = read_sitemap(b"<html><body>not XML<a href=/x></body></html>")
    assert page.links == []
    assert read_sitemap(b"\x1f\x8bnot gzip at all").incomplete.startswith("not gzip")


def test_a_cut_xml_sitemap_keeps_its_whole_entries_only() -> None:
    body = urlset("https://example.com/1", "https://example.com/22222")
    page = read_sitemap(body, SitemapLimits(bytes=body.index(b"22222")))
    assert [link.url for link in page.links] == ["https://example.com/1"]


def test_a_gzip_bomb_inflates_no_further_than_the_bound() -> None:
    head = urlset("https://example.com/first")[: -len(b"</urlset>")]
    bomb = gzip.compress(head + b" " * 200_000_000 + b"</urlset>")  # 200 MB from 200 kB
    assert len(bomb) < 250_000
    page = read_sitemap(bomb, SitemapLimits(bytes=1_000_000))
    assert [link.url for link in page.links] == ["https://example.com/first"]
    assert "over 1000000 bytes uncompressed: the rest not read" in page.incomplete


def test_ten_million_urls_are_read_up_to_the_limit() -> None:
    entry = b"<url><loc>https://example.com/p</loc></url>"
    body = gzip.compress(b"<urlset " + NS.encode() + b">" + entry * 10_000_000 + b"</urlset>")
    page = read_sitemap(body)  # the protocol's limits: 50,000 URLs, 50 MB
    assert len(page.links) == 50_000
    assert page.incomplete == (
        "over 52428800 bytes uncompressed: the rest not read; 50000 URLs read: the rest not read"
    )


def test_a_large_plain_sitemap_is_cut_at_the_byte_bound() -> None:
    body = b"".join(b"https://example.com/%d\n" % i for i in range(1000))
    page = read_sitemap(body, SitemapLimits(bytes=100))
    assert [link.url for link in page.links] == [f"https://example.com/{i}" for i in range(4)]
    assert page.incomplete == "over 100 bytes: the rest not read"


def test_sitemap_lines_of_robots_txt() -> None:
    robots = (
        b"User-agent: *\nDisallow: /x\nSitemap: /sitemap.xml\n"
        b"sitemap:https://cdn.example.net/s.xml\nSitemap: mailto:x\n"
    )
    assert robots_sitemaps(robots, "https://example.com/robots.txt") == [
        "https://example.com/sitemap.xml",
        "https://cdn.example.net/s.xml",
    ]


def test_which_sitemaps_a_host_has_under_each_mode() -> None:
    robots = b"Sitemap: /s.xml\n"
    origin, at = "https://example.com:443", "https://example.com/robots.txt"
    assert host_sitemaps("robots", origin, at, 200, robots) == ["https://example.com/s.xml"]
    assert host_sitemaps("all", origin, at, 200, robots) == [
        "https://example.com/s.xml",
        "https://example.com/sitemap.xml",
    ]
    moved = "https://cdn.example.net/robots/example.txt"  # where robots.txt redirected
    assert host_sitemaps("robots", origin, moved, 200, robots) == ["https://cdn.example.net/s.xml"]
    assert host_sitemaps("all", "http://h.example:8080", "", 404, b"") == [
        "http://h.example:8080/sitemap.xml"
    ]
    assert host_sitemaps("robots", origin, at, 500, robots) == []  # an error page lists none
    assert host_sitemaps("none", origin, at, 200, robots) == []


def test_seed_sitemaps_of_a_domain_or_an_origin() -> None:
    assert seed_sitemaps("Example.COM") == "https://example.com/sitemap.xml"
    assert seed_sitemaps("http://h.example:8080/a/b") == "http://h.example:8080/sitemap.xml"
    assert seed_sitemaps("not a domain") is None


def test_the_registry_bounds_each_host_and_registers_a_sitemap_once(
    redis_client: redis.Redis,
) -> None:
    frontier = Frontier(redis_client, "sitemaps", delay=0)
    registry = SitemapRegistry(frontier, max_per_host=3)
    first = [f"https://a.example/s{i}.xml" for i in range(5)]
    assert registry.register([*first, "https://b.example/s.xml"]) == [
        *first[:3],
        "https://b.example/s.xml",
    ]
    assert registry.register(first) == []  # an index listing itself, or its siblings, again
    assert [registry.is_sitemap(url) for url in first] == [True, True, True, False, False]
    assert registry.register(["https://a.example/endless/1.xml"]) == []  # a's share is spent
    assert frontier.queued() == 4  # at depth 0, as seeds
    assert [frontier.is_seen(url) for url in first] == [True, True, True, False, False]


def test_a_sitemap_registered_but_never_queued_is_queued_when_read_again(
    redis_client: redis.Redis,
) -> None:
    frontier = Frontier(redis_client, "sitemaps", delay=0)
    registry = SitemapRegistry(frontier, max_per_host=3)
    # A worker registered it, then stopped on a frontier error before it was queued.
    redis_client.sadd(frontier.keys.sitemaps, "https://a.example/s.xml")
    redis_client.hincrby(frontier.keys.sitemap_hosts, "a.example", 1)
    assert registry.register(["https://a.example/s.xml"]) == []  # registered before
    assert frontier.is_seen("https://a.example/s.xml") and frontier.queued() == 1
    assert registry.register(["https://a.example/s.xml"]) == [] and frontier.queued() == 1


def test_a_crawl_seeded_from_a_domains_sitemaps(
    web: TestWeb, served: tuple[LocalWebServer, Path], tmp_path: Path
) -> None:
    server, hosts_file = served
    data = tmp_path / "data"
    at = f"http://maps.example.net:{server.port}"
    run_linkgraph(
        "crawl", "--seed-sitemaps", at, "--sitemaps", "--scope", "seed-domains",
        "--data-dir", str(data), "--hosts-file", str(hosts_file), "--allow-private",
        "--delay", "0", "-q",
    )  # fmt: skip
    rows = query(data, "SELECT url, status, error, depth FROM pages")
    listed = ("/sitemap_index.xml", "/sitemap.txt", "/sitemap-pages.xml.gz", "/sitemap-news.xml",
              "/linked", "/published-only", "/news/1", "/text-only")  # fmt: skip
    assert {url.removeprefix(at): (status, error, depth) for url, status, error, depth in rows} == {
        "/sitemap.xml": (404, "", 0),  # --seed-sitemaps's, not there: robots.txt names others
        "/private/draft": (0, "robots", 0),
        **dict.fromkeys(listed, (200, "", 0)),
    }  # alice.github.io, listed too, is out of the seed domains
    found = query(data, "SELECT src_url, tag, count() FROM links WHERE type = 'sitemap' "
                  "GROUP BY src_url, tag ORDER BY src_url")  # fmt: skip
    assert [(src.removeprefix(at), tag, n) for src, tag, n in found] == [
        ("/sitemap-news.xml", "url", 2),
        ("/sitemap-pages.xml.gz", "url", 3),
        ("/sitemap.txt", "line", 1),
        ("/sitemap_index.xml", "index", 3),
    ]


def test_seed_sitemaps_must_name_a_domain(tmp_path: Path) -> None:
    proc = run_linkgraph("crawl", "--seed-sitemaps", "not a domain", "--data-dir",
                         str(tmp_path / "d"), check=False)  # fmt: skip
    assert proc.returncode == 2 and proc.stderr.strip().splitlines() == [
        "linkgraph: error: --seed-sitemaps: 'not a domain' is not a domain name or http(s) URL"
    ]


def test_an_xml_sitemap_says_what_it_is_a_text_one_does_not() -> None:
    assert is_xml_sitemap(urlset("https://example.com/"))
    assert is_xml_sitemap(gzip.compress(f"<!-- x --><sitemapindex {NS}>".encode()))
    assert not is_xml_sitemap(b"<html><body><urlset></urlset></body></html>")
    assert not is_xml_sitemap(b"https://example.com/\n")
