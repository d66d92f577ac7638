"""Self-checks of the hand-made test web: it is served as declared, and its ground truth holds
together. The declarations are cross-checked against independent implementations (ada-url for
WHATWG URL resolution, the stdlib HTML parser for anchor text, tldextract for registered
domains), never against the crawler's own code."""

from __future__ import annotations

import http.client
import re
from html import unescape
from html.parser import HTMLParser

import ada_url
import pytest
import tldextract

from crawler.localweb.server import LocalWebServer
from crawler.localweb.web import write_hosts_file
from tests.testweb import TestWeb, build_test_web


@pytest.fixture(scope="module")
def web() -> TestWeb:
    return build_test_web()


@pytest.fixture(scope="module")
def server(web: TestWeb):
    with LocalWebServer(web) as srv:
        yield srv


def get(port: int, host: str, path: str) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", path, headers={"Host": f"{host}:{port}", "User-Agent": "selfcheck"})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


# -- served as declared ---------------------------------------------------------------------
def test_robots_variants_are_served(server: LocalWebServer) -> None:
    port = server.port
    status, _, body = get(port, "shop.example.co.uk", "/robots.txt")
    assert status == 200 and b"User-agent: linkgraph" in body and b"Crawl-delay: 0.3" in body
    assert get(port, "news.example.com", "/robots.txt")[0] == 404
    assert get(port, "mirror.example.net", "/robots.txt")[0] == 500
    # robots.txt redirects twice, the Location carrying the server's real port
    status, headers, _ = get(port, "docs.example.org", "/robots.txt")
    assert (status, headers["location"]) == (301, f"http://docs.example.org:{port}/robots/v1.txt")
    status, headers, _ = get(port, "docs.example.org", "/robots/v1.txt")
    assert (status, headers["location"]) == (302, "/robots/current.txt")
    status, _, body = get(port, "docs.example.org", "/robots/current.txt")
    assert status == 200 and b"Disallow: /internal/" in body


def test_pages_are_served_as_declared(server: LocalWebServer) -> None:
    port = server.port
    status, headers, _ = get(port, "go.example.info", "/out")
    assert (status, headers["location"]) == (302, f"http://WWW.NORTHWIND.CO.UK:{port}/landing")
    status, headers, body = get(port, "forum.example.com", "/thread/3")
    assert status == 200 and headers["x-robots-tag"] == "nofollow"
    assert (
        b'<meta name="robots" content="noindex, nofollow">'
        in get(port, "forum.example.com", "/thread/2")[2]
    )
    status, headers, body = get(port, "static.example.com", "/img/logo.png")
    assert headers["content-type"] == "image/png" and body.startswith(b"\x89PNG")
    assert get(port, "www.example.com", "/missing")[0] == 404
    assert get(port, "www.example.com", "/broken")[0] == 500
    assert get(port, "nowhere.example.com", "/")[0] == 404  # unknown host
    # the IDN host answers to its punycode name; its page links with the real port
    status, _, body = get(port, "xn--bcher-kva.de", "/")
    assert status == 200 and f"http://www.bücher.de:{port}/".encode() in body
    assert b"{port}" not in get(port, "www.example.com", "/")[2]


def test_every_expected_page_is_served_with_its_status(web: TestWeb, server: LocalWebServer):
    port = server.port
    statuses = web.expected_pages(port)
    for host, path in sorted(web.expected_requests()):
        assert get(port, host, path)[0] == statuses[f"http://{host}:{port}{path}"], (host, path)
    logged = {(r.host, r.path) for r in server.requests() if r.user_agent == "selfcheck"}
    assert web.expected_requests() <= logged


# -- the declarations agree with independent parsers ----------------------------------------
class _Anchor(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.href: str | None = None
        self.text: list[str] = []
        self.alt = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag in ("a", "area") and self.href is None:
            self.href = values.get("href")
        if tag == "img" and not self.alt:
            self.alt = values.get("alt") or ""

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _base(page_url: str, head: str) -> str:
    found = re.search(r'<base href="([^"]*)"', head.replace("{port}", "8000"))
    return ada_url.URL(unescape(found.group(1)), page_url).href if found else page_url


def test_declared_urls_and_anchors_match_the_markup(web: TestWeb) -> None:
    checked = 0
    for host in web.declared.values():
        for page in host.pages:
            page_url = f"http://{host.name}:8000{page.path}"
            base = _base(page_url, page.head)
            for link in page.links:
                parsed = _Anchor()
                parsed.feed(link.html().replace("{port}", "8000"))
                text = " ".join("".join(parsed.text).split())
                if link.url is None:
                    href = parsed.href
                    assert href is None or not href.startswith(("http:", "https:", "/")), link
                    continue
                assert parsed.href is not None, link
                resolved = ada_url.URL(unescape(parsed.href).strip(), base)
                resolved.hash = ""
                assert resolved.href == link.url.replace("{port}", "8000"), link
                assert (text or parsed.alt) == link.anchor, link
                checked += 1
    assert checked > 100


def test_declared_domains_match_the_public_suffix_list(web: TestWeb) -> None:
    extract = tldextract.TLDExtract(suffix_list_urls=(), include_psl_private_domains=True)
    for host, domain in web.domains().items():
        assert extract(host).top_domain_under_public_suffix == domain, host


# -- the ground truth is internally consistent ----------------------------------------------
def test_ground_truth_is_consistent(web: TestWeb) -> None:
    port = 8000
    pages = web.expected_pages(port)
    nofollow = web.expected_nofollow_pages(port)
    domains = web.domains()
    html_pages = {
        f"http://{h.name}:{port}{p.path}"
        for h in web.declared.values()
        for p in h.pages
        if p.content_type == "text/html" and p.body is None
    }
    rows = web.expected_backlink_rows(port)
    for (src, dst), row in rows.items():
        assert pages[src] in (200, 301, 302, 307), src
        assert pages[src] != 200 or src in html_pages
        src_host, dst_host = (ada_url.URL(u).hostname for u in (src, dst))
        assert domains[src_host] != domains[dst_host]
        assert not (row.follow and src in nofollow)
        assert row.anchor == (min(row.anchors) if row.anchors else "")
    assert {(s, d, r.follow, r.anchor) for (s, d), r in rows.items()} == web.expected_backlinks(
        port
    )
    inbound = web.expected_domain_inbound()
    assert sum(n for _, n, _, _ in inbound.values()) == len(rows)
    for refs, n, follow, nofollow_n in inbound.values():
        assert follow + nofollow_n == n and 1 <= refs <= n
    anchors = web.expected_anchors()
    assert sum(n for n, _ in anchors.values()) == sum(len(r.anchors) for r in rows.values())
    # never-requested paths and requests are disjoint; robots refusals are recorded pages
    assert not web.disallowed_paths() & web.expected_requests()
    for url, error in web.expected_errors(port).items():
        assert error in ("robots", "robots: HTTP 500") and pages[url] == 0
    assert set(web.hosts()) >= {h for h, _ in web.expected_requests() | web.disallowed_paths()}
    assert web.crawl_delays() == {"shop.example.co.uk": 0.3, "blog.example.co.uk": 0.3}


def test_ground_truth_covers_the_features(web: TestWeb) -> None:
    port = 8000
    pages = web.expected_pages(port)
    backlinks = web.expected_backlinks(port)
    assert len(web.hosts()) >= 30 and len(set(web.domains().values())) >= 15
    assert pages["http://xn--bcher-kva.de:8000/"] == 200
    assert pages["http://mirror.example.net:8000/"] == 0
    assert pages["http://go.example.info:8000/loop-b"] == 302
    assert "http://www.northwind.co.uk:8000/landing" in pages  # via the cross-domain 302
    redirect = ("http://go.example.info:8000/out", "http://www.northwind.co.uk:8000/landing")
    assert (*redirect, True, "") in backlinks  # a redirect's link has an empty anchor
    assert not any(h in u for u in pages for h in ("hidden.", "secret.", "trap."))
    follow = {(s, d): f for s, d, f, _ in backlinks}
    # one nofollow and one plain occurrence: followed, smallest anchor, both anchors listed
    key = ("http://www.example.com:8000/", "http://alice.github.io:8000/")
    assert follow[key] is True
    assert web.expected_backlink_rows(port)[key].anchors == ("Alice", "Alice's blog")
    # links on a nofollow page are recorded, not followed
    assert (
        follow[("http://forum.example.com:8000/thread/2", "https://bob.github.io/secure")] is False
    )


def test_hosts_file(web: TestWeb, tmp_path) -> None:
    out = tmp_path / "hosts"
    write_hosts_file(str(out), [*web.hosts(), "bücher.de"])
    names = [n for line in out.read_text().splitlines()[1:] for n in line.split()[1:]]
    assert all(line.startswith("127.0.0.1 ") for line in out.read_text().splitlines()[1:])
    assert sorted(names) == sorted(web.hosts())  # the Unicode name is the punycode one
    assert "xn--bcher-kva.de" in names
