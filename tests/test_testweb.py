"""Self-checks of the hand-made test web: it is served as declared, and its ground truth holds
together. The declarations are cross-checked against independent implementations (ada-url for
WHATWG URL resolution, the stdlib HTML parser for anchor text, tldextract for registered
domains), never against the crawler's own code."""

from __future__ import annotations

import http.client
import re
from html import unescape
from html.parser import HTMLParser
from urllib.parse import quote

import ada_url
import pytest
import tldextract

from crawler.demo.server import LocalWebServer
from crawler.demo.web import write_hosts_file
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
# The attribute that holds the URL of each element that makes a link.
_URL_ATTRIBUTE = {"a": "href", "area": "href", "link": "href", "frame": "src", "iframe": "src",
                  "form": "action"}  # fmt: skip


class _Anchor(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.href: str | None = None
        self.tag = ""
        self.text: list[str] = []
        self.alt = ""
        self.images = 0
        self.in_svg = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "svg":
            self.in_svg = True
        if tag in _URL_ATTRIBUTE and self.href is None:
            self.href = values.get(_URL_ATTRIBUTE[tag])
            if tag == "a" and "href" not in values and self.in_svg:  # SVG 1.1's spelling
                self.href = values.get("xlink:href")
            self.tag = tag
        if tag == "img":
            self.images += 1
            self.alt = self.alt or values.get("alt") or ""

    def link_type(self, rel: frozenset[str]) -> str:
        if self.tag == "a":
            return "image" if self.images and not "".join(self.text).strip() else "text"
        if self.tag == "link":
            return "canonical" if "canonical" in rel else "hreflang"
        return {"area": "area", "form": "form"}.get(self.tag, "frame")

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _base(page_url: str, head: str) -> str:
    found = re.search(r'<base href="([^"]*)"', head.replace("{port}", "8000"))
    return ada_url.URL(unescape(found.group(1)), page_url).href if found else page_url


def _query_in(href: str, encoding: str) -> str:
    """`href` with the non-ASCII characters of its query percent-encoded in `encoding` (the
    URL Standard's rule for a document in that encoding; unencodable ones as &#N;)."""
    path, mark, query = href.partition("?")
    if not mark or encoding == "utf-8":
        return href
    encoded = (
        c if c.isascii() else quote(c, safe="", encoding=encoding, errors="xmlcharrefreplace")
        for c in query
    )
    return path + mark + "".join(encoded)


def test_declared_urls_and_anchors_match_the_markup(web: TestWeb) -> None:
    checked = 0
    types = set()
    for host in web.declared.values():
        for page in host.pages:
            page_url = f"http://{host.name}:8000{page.path}"
            base = _base(page_url, page.head)
            for link in page.links:
                parsed = _Anchor()
                if link.tag == "header":  # a Link header's link-value, not markup
                    header = link.header().replace("{port}", "8000")
                    parsed.href, parsed.tag = header.partition(">")[0][1:], "link"
                else:
                    parsed.feed(link.html().replace("{port}", "8000"))
                text = " ".join("".join(parsed.text).split())
                if link.url is None:
                    href = parsed.href
                    assert href is None or not href.startswith(("http:", "https:", "/")), link
                    continue
                assert parsed.href is not None, link
                href = _query_in(unescape(parsed.href).strip(), page.encoding)
                resolved = ada_url.URL(href, page_url if link.tag == "header" else base)
                resolved.hash = ""
                assert resolved.href == link.url.replace("{port}", "8000"), link
                assert (text or parsed.alt) == link.anchor, link
                assert parsed.link_type(link.rels) == link.type, link
                types.add(link.type)
                checked += 1
    assert checked > 100
    assert types == {"text", "image", "area", "canonical", "hreflang", "frame", "form"}


def test_pages_in_other_encodings_are_served_as_declared(server: LocalWebServer) -> None:
    port = server.port
    _, headers, body = get(port, "intl.example.net", "/transport")
    assert headers["content-type"] == "text/html; charset=windows-1250"
    assert b"<meta charset=windows-1252>" in body and "łódź".encode("cp1250") in body
    _, headers, body = get(port, "intl.example.net", "/bom")
    assert headers["content-type"] == "text/html; charset=windows-1252"
    assert body.startswith(b"\xef\xbb\xbf<!DOCTYPE html>") and b"<meta charset=shift_jis>" in body
    _, headers, body = get(port, "intl.example.net", "/late")
    assert headers["content-type"] == "text/html"
    assert body.index(b"<meta charset=iso-8859-1>") > 5000
    assert "東京".encode("shift_jis") in get(port, "intl.example.net", "/sjis")[2]
    _, _, body = get(port, "kinds.example.net", "/frames")
    assert b'<frameset>\n<frame src="frame-a">' in body


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
    # frame, hreflang and form links are recorded, not followed; SVG links are
    never = web.disallowed_paths()
    for path in ("/embedded", "/de/", "/frame-a"):
        assert ("kinds.example.net", path) in never
    assert pages["http://kinds.example.net:8000/svg-xlink"] == 200
    typed = {t for *_, t in web.expected_typed_links(port)}
    assert typed == {
        "text", "image", "area", "redirect", "canonical", "hreflang", "frame", "form", "sitemap"
    }  # fmt: skip
    # sitemaps: URLs only a sitemap lists are fetched; the sitemap names none as a backlink
    assert pages["http://maps.example.net:8000/published-only"] == 200
    assert pages["http://maps.example.net:8000/private/draft"] == 0
    assert not any(s.startswith("http://maps.") for s, *_ in backlinks)
    assert pages["http://intl.example.net:8000/%E6%9D%B1%E4%BA%AC?q=%93%8C%8B%9E"] == 200
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
