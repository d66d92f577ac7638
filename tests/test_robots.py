"""RobotsPolicy: fetch outcomes, group selection, Crawl-delay, sharing, size limits; and the
byte budget through a real crawl."""

from __future__ import annotations

import zlib
from pathlib import Path

import pytest

from crawler.demo.server import LocalWebServer, write_hosts_file
from crawler.demo.web import PortTemplate, StaticWeb, TemplateResource, blob, html
from crawler.robots import MAX_ROBOTS_BYTES, RobotsPolicy, cut_at_line
from tests.conftest import query, run_linkgraph

ROBOTS = b"""\
# shop
User-agent: *
Disallow: /private/
Crawl-delay: 2

User-agent: LinkGraph
User-agent: otherbot
Disallow: /search
Allow: /search/help$
Crawl-delay: 5

User-agent: greedybot
Disallow: /

Sitemap: https://shop.example/sitemap.xml
"""


@pytest.mark.parametrize("status", [404, 403, 401, 410, 301])
def test_unavailable_robots_allows_everything(status: int) -> None:
    policy = RobotsPolicy.from_fetch(status, b"User-agent: *\nDisallow: /\n")
    assert policy.allowed("https://shop.example/private/x", "linkgraph")
    assert policy.crawl_delay("linkgraph") is None


@pytest.mark.parametrize("status", [500, 503, 0, 429])
def test_unreachable_robots_disallows_everything(status: int) -> None:
    policy = RobotsPolicy.from_fetch(status, b"")
    assert not policy.allowed("https://shop.example/", "linkgraph")
    assert not policy.allowed("https://shop.example/robots.txt", "linkgraph")
    assert policy.crawl_delay("linkgraph") is None


def test_agent_group_selection() -> None:
    policy = RobotsPolicy.from_fetch(200, ROBOTS)
    # Our group replaces the * group entirely: /private/ is not in it.
    assert policy.allowed("https://shop.example/private/x", "linkgraph")
    assert not policy.allowed("https://shop.example/search?q=1", "linkgraph")
    assert policy.allowed("https://shop.example/search/help", "LINKGRAPH")
    assert not policy.allowed("https://shop.example/search/help?x", "linkgraph")
    assert not policy.allowed("https://shop.example/search", "otherbot")
    # Any other agent falls back to the * group.
    assert not policy.allowed("https://shop.example/private/x", "somebot")
    assert policy.allowed("https://shop.example/search", "somebot")
    assert not policy.allowed("https://shop.example/", "greedybot")
    # robots.txt itself is always allowed.
    assert policy.allowed("https://shop.example/robots.txt", "greedybot")


def test_crawl_delay_agent_group_then_global() -> None:
    policy = RobotsPolicy.from_fetch(200, ROBOTS)
    assert policy.crawl_delay("linkgraph") == 5.0
    assert policy.crawl_delay("somebot") == 2.0
    assert policy.crawl_delay("greedybot") is None  # its own group sets none


def test_crawl_delay_ignores_nonsense_and_takes_the_largest() -> None:
    body = b"User-agent: *\nCrawl-delay: soon\nCrawl-delay: -1\nCrawl-delay: nan\n"
    assert RobotsPolicy.from_fetch(200, body).crawl_delay("linkgraph") is None
    body = b"User-agent: linkgraph\nCrawl-delay: 1.5\n\nUser-agent: linkgraph\nCrawl-delay: 10\n"
    assert RobotsPolicy.from_fetch(200, body).crawl_delay("linkgraph") == 10.0


def test_empty_rule_ends_a_user_agent_run() -> None:
    # The common "let this one bot in" idiom must not merge the two groups.
    body = b"User-agent: linkgraph\nDisallow:\n\nUser-agent: *\nDisallow: /\n"
    policy = RobotsPolicy.from_fetch(200, body)
    assert policy.allowed("https://a.example/page", "linkgraph")
    assert not policy.allowed("https://a.example/page", "otherbot")


def test_serialisation_round_trip() -> None:
    policy = RobotsPolicy.from_fetch(200, ROBOTS)
    data = policy.to_bytes()
    assert data == b"robots/1 200\n" + ROBOTS
    shared = RobotsPolicy.from_bytes(data)
    assert (shared.status, shared.body) == (200, ROBOTS)
    assert shared.crawl_delay("linkgraph") == 5.0
    assert not shared.allowed("https://shop.example/search", "linkgraph")
    for status in (404, 503, 0):
        outcome = RobotsPolicy.from_bytes(RobotsPolicy.from_fetch(status, b"ignored").to_bytes())
        assert (outcome.status, outcome.body) == (status, b"")


def test_from_bytes_rejects_foreign_data() -> None:
    with pytest.raises(ValueError):
        RobotsPolicy.from_bytes(b"\x80\x04pickle")


def test_percent_encoding_and_wildcards() -> None:
    body = "User-agent: *\nDisallow: /caf\u00e9/\nDisallow: /*.pdf$\nDisallow: /a%2fb\n".encode()
    policy = RobotsPolicy.from_fetch(200, body)
    assert not policy.allowed("https://a.example/caf%C3%A9/menu", "linkgraph")
    assert not policy.allowed("https://a.example/caf%c3%a9/menu", "linkgraph")
    assert not policy.allowed("https://a.example/docs/x.pdf", "linkgraph")
    assert policy.allowed("https://a.example/docs/x.pdf?download=1", "linkgraph")
    assert not policy.allowed("https://a.example/a%2Fb", "linkgraph")
    assert policy.allowed("https://a.example/a/b", "linkgraph")


def test_pathological_wildcards_stay_fast() -> None:
    body = b"User-agent: *\nDisallow: /" + b"*a" * 200 + b"b\n"
    policy = RobotsPolicy.from_fetch(200, body)
    assert policy.allowed("https://a.example/" + "a" * 100_000, "linkgraph")


def test_parse_budget_and_cut_line() -> None:
    filler = b"# " + b"x" * 1000 + b"\n"
    head = b"User-agent: *\nDisallow: /early\n"
    cut = b"Disallow: /private-area-with-a-long-name\n"
    count = (MAX_ROBOTS_BYTES - len(head)) // len(filler)
    body = head + filler * count
    # Pad so the budget ends in the middle of the rule: its "/p" prefix must not apply.
    body += b" " * (MAX_ROBOTS_BYTES - len(body) - 12) + cut + b"Disallow: /late\n"
    policy = RobotsPolicy.from_fetch(200, body)
    assert not policy.allowed("https://a.example/early", "linkgraph")
    assert policy.allowed("https://a.example/p", "linkgraph")
    assert policy.allowed("https://a.example/late", "linkgraph")
    assert len(policy.to_bytes()) <= MAX_ROBOTS_BYTES + 20


def test_byte_order_mark_and_line_endings() -> None:
    body = b"\xef\xbb\xbfUser-agent: *\r\nDisallow: /a\rDisallow: /b\r\n"
    policy = RobotsPolicy.from_fetch(200, body)
    assert not policy.allowed("https://x.example/a", "linkgraph")
    assert not policy.allowed("https://x.example/b", "linkgraph")
    assert policy.allowed("https://x.example/c", "linkgraph")


def test_oversized_single_line_is_dropped_whole() -> None:
    body = b"User-agent: * Disallow: /" + b"x" * MAX_ROBOTS_BYTES
    policy = RobotsPolicy.from_fetch(200, body)
    assert policy.body == b""
    assert policy.allowed("https://a.example/x", "linkgraph")


# -- the byte budget ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "limit", "kept"),
    [
        (b"User-agent: *\nDisallow: /private\n", 100, b"User-agent: *\nDisallow: /private\n"),
        (b"User-agent: *\nDisallow: /private", 100, b"User-agent: *\nDisallow: /private"),
        (b"User-agent: *\nDisallow: /private\n", 25, b"User-agent: *\n"),  # cut after "/"
        (b"User-agent: *\nDisallow: /private\n", 14, b"User-agent: *\n"),  # cut after "\n"
        (b"User-agent: *\r\nDisallow: /a\rDisallow: /b", 30, b"User-agent: *\r\nDisallow: /a\r"),
        (b"User-agent: * Disallow: /", 10, b""),
        (b"", 0, b""),
    ],
)
def test_cut_at_line(body: bytes, limit: int, kept: bytes) -> None:
    assert cut_at_line(body, limit) == kept


def test_a_lower_budget_drops_the_rule_it_cuts() -> None:
    body = b"User-agent: *\nDisallow: /secret\nDisallow: /private\n"
    budget = body.index(b"/private") + 1  # "Disallow: /" would block the whole site
    policy = RobotsPolicy.from_fetch(200, body, budget)
    assert not policy.allowed("https://a.example/secret", "linkgraph")
    assert policy.allowed("https://a.example/private", "linkgraph")
    assert policy.allowed("https://a.example/", "linkgraph")
    assert RobotsPolicy.from_bytes(policy.to_bytes()).allowed("https://a.example/", "linkgraph")


# A robots.txt larger than DOWNLOAD_MAXSIZE (16 MiB): its rules at the start must apply.
HUGE_ROBOTS = b"User-agent: *\nDisallow: /secret\n"
HUGE_ROBOTS += (b"#" + b"y" * 98 + b"\n") * (20 * 1024 * 1024 // 100) + b"Disallow: /late\n"
CUT_ROBOTS = b"User-agent: *\nDisallow: /secret\nDisallow: /private\n"
BUDGET = CUT_ROBOTS.index(b"/private") + 1


def _budget_web() -> StaticWeb:
    pages = '<a href="/secret">s</a> <a href="/private">p</a> <a href="/late">l</a>'
    resources = {}
    for host, robots in (("cut.test", CUT_ROBOTS), ("huge.test", HUGE_ROBOTS)):
        resources[(host, "/robots.txt")] = blob(robots, "text/plain")
        resources[(host, "/")] = html(pages)
        for path in ("/secret", "/private", "/late"):
            resources[(host, path)] = html("leaf")
    return StaticWeb(resources)


def test_robots_txt_is_read_up_to_the_budget_and_cut_at_a_line(tmp_path: Path) -> None:
    """One crawl, LINKGRAPH_ROBOTS_MAX_BYTES set so it falls just after "Disallow: /" of
    cut.test's third line; huge.test's 20 MiB robots.txt is read only that far too."""
    web = _budget_web()
    data, hosts_file = tmp_path / "data", tmp_path / "hosts"
    with LocalWebServer(web) as server:
        write_hosts_file(hosts_file, web.hosts())
        seeds = [server.url("cut.test"), server.url("huge.test")]
        run_linkgraph("crawl", *seeds, "--data-dir", str(data), "--hosts-file", str(hosts_file),
                      "--allow-private", "--delay", "0", "-q",
                      "-s", f"LINKGRAPH_ROBOTS_MAX_BYTES={BUDGET}")  # fmt: skip
        requests = [(e.host, e.path) for e in server.requests()]
    rows = query(data, "SELECT url, status, error FROM pages")
    expected = set()
    for host in ("cut.test", "huge.test"):
        base = server.url(host, "")
        expected |= {(base + "/", 200, ""), (base + "/private", 200, ""),
                     (base + "/late", 200, ""), (base + "/secret", 0, "robots")}  # fmt: skip
    assert sorted(rows) == sorted(expected)
    assert sorted(requests) == sorted(
        (host, path) for host in ("cut.test", "huge.test")
        for path in ("/robots.txt", "/", "/private", "/late")
    )  # fmt: skip


def _gzip_bomb(size: int) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: the gzip container
    chunk = b"#" * (1 << 20)
    return b"".join(packer.compress(chunk) for _ in range(size >> 20)) + packer.flush()


def test_a_compressed_robots_txt_stays_capped_when_decompressed(tmp_path: Path) -> None:
    """The budget lifts the download cap only; 256 MiB of gzip-compressed robots.txt (far less
    on the wire than the budget) still stops at DOWNLOAD_MAXSIZE and counts as a failure."""
    bomb = _gzip_bomb(256 << 20)
    assert len(bomb) < MAX_ROBOTS_BYTES
    headers = (("Content-Type", "text/plain"), ("Content-Encoding", "gzip"))
    web = StaticWeb({
        ("bomb.test", "/robots.txt"): TemplateResource(200, headers, PortTemplate(bomb)),
        ("bomb.test", "/"): html("home"),
    })  # fmt: skip
    data, hosts_file = tmp_path / "data", tmp_path / "hosts"
    with LocalWebServer(web) as server:
        write_hosts_file(hosts_file, web.hosts())
        run_linkgraph("crawl", server.url("bomb.test"), "--data-dir", str(data), "--hosts-file",
                      str(hosts_file), "--allow-private", "--delay", "0", "-q")  # fmt: skip
        requests = [(e.host, e.path) for e in server.requests()]
    [(url, status, error)] = query(data, "SELECT url, status, error FROM pages")
    assert (url, status) == (server.url("bomb.test"), 0)
    assert error.startswith("robots: ignored: Ignored response <200 ")
    assert "exceeded DOWNLOAD_MAXSIZE (16777216 B) during decompression" in error
    assert requests == [("bomb.test", "/robots.txt")]
