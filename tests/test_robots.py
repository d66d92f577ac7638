"""RobotsPolicy: fetch outcomes, group selection, Crawl-delay, sharing, size limits."""

from __future__ import annotations

import pytest

from crawler.robots import MAX_ROBOTS_BYTES, RobotsPolicy

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
