"""The link memos (crawler/linkcache.py) answer exactly what the uncached functions answer.

A memo keyed by too little would hand one page's answer to another page: every href here is
resolved against many bases through one shared memo, in two orders, and compared with
`crawler.urls.resolve`, which parses every time.
"""

from __future__ import annotations

import json
import random

from crawler.encoding import encode_query
from crawler.extraction import extract
from crawler.linkcache import RESOLUTIONS, Destinations, Resolutions, plain_path, plain_url
from crawler.urls import base_scopes, canonicalize, host_of, registered_domain, resolve
from tests.conftest import SHARED

ORACLE = SHARED / "oracles" / "url" / "urltestdata.jsonl"
# The WHATWG cases' inputs and bases where the oracle is at hand; the lists below either way.
CASES = (
    [json.loads(line) for line in ORACLE.read_text(encoding="utf-8").splitlines() if line]
    if ORACLE.is_file()
    else []
)

BASES = [
    "http://example.com/",
    "http://example.com/a/b/c",
    "http://example.com/a/b/",
    "http://example.com/a/b/c?q=1#frag",
    "http://example.com/a/x/c",
    "https://example.com/a/b/c",
    "http://example.com:8080/a/b/c",
    "http://example.com:80/a/b/c",
    "http://user:pw@example.com/a/b/c",
    "http://user@example.com/a/b/",
    "http://EXAMPLE.com./a/b/c",
    "http://example.com/a%2Fb/c",
    "http://example.com/a/b;p/c",
    "http://example.com/a/./b/../c/d",
    "http://example.com",
    "http://[::1]:81/x/y",
    "http://1.2.3.4/a/b",
    "http://0x7f.1/a/b",
    "http://bücher.example/ä/ö",
    "http://xn--bcher-kva.example/a/",
    "http://xn--a.example/a/b",  # not Punycode: no http(s) link can be made against it
    "https://other.example/a/b/c",
    "file:///a/b/c",
    "data:text/plain,x",
    "mailto:a@example.com",
    "not a url",
    "",
]

HREFS = [
    "",
    "/",
    "/x",
    "/x/../y",
    "/x?q=1#f",
    "/./x",
    "/%2e%2e/x",
    "//evil.example/x",
    "/\\evil.example/x",
    "/\t/evil.example/x",
    "/\n/evil.example/x",
    "/\r/evil.example/x",
    "/\tx",
    "\\\\evil.example/x",
    "\\x",
    "\\/x",
    "/\\x",
    "javascript:void(0)",
    "JavaScript:void(0)",
    "mailto:",
    "tel:+1-555-0100",
    "http:?q",
    "http:#f",
    "https:?q",
    " //evil.example/x",
    "\t/x",
    "\x00/x",
    " x",
    "x",
    "x/y",
    "./x",
    ".",
    "..",
    "../x",
    "../../../../x",
    "x/../../y",
    "%2e%2e/x",
    "x?q",
    "x#f",
    "?q=1",
    "#f",
    "a b/c",
    "é/x",
    "/é?é=1",
    "\ud800/x",
    "/\ud800",
    "x:y",
    "a/b:c",
    "mailto:x@example.com",
    "javascript:alert(1)",
    "http:x",
    "http:/x",
    "https:x",
    "HTTP://Example.COM/X",
    "http://example.com/x#f",
    "http://Example.com:80/./a/../b",
    "https://example.com:443/",
    "http://user:pw@example.com/x",
    "http://xn--a.example/",
    "http://xn--bcher-kva.example/",
    "http://bücher.example/",
    "http://[::1]/",
    "http://300.1.1.1/",
    "http:///x",
    "http://",
    "http://exa mple.com/",
    "http://example.com\t/x",
    "https://example.com/a b?c d#e f",
]


def hrefs() -> list[str]:
    found = dict.fromkeys(HREFS)
    for case in CASES:
        found[case["input"]] = None
    return list(found)


def bases() -> list[str]:
    found = dict.fromkeys(BASES)
    for case in CASES:
        if case["base"] is not None:
            found[case["base"]] = None
    return list(found)


def check_against_uncached(memo: Resolutions, base_order: list[str], href_list: list[str]) -> int:
    """Resolve every href against every base through `memo`; the number of answers checked."""
    checked = 0
    for base in base_order:
        resolve_href = memo.resolver(base)
        for href in href_list:
            assert resolve_href(href) == resolve(base, href), (base, href)
            checked += 1
    return checked


def test_the_lists_cover_every_kind_of_href_and_base() -> None:
    # Guards against lists that no longer reach the memo's three kinds of keys.
    assert sum(h.startswith(("http://", "https://", "javascript:", "mailto:")) for h in HREFS) >= 10
    assert sum(h.startswith(("/", "\\")) for h in HREFS) >= 10
    assert sum(h[:1].isalnum() and ":" not in h for h in HREFS) >= 5
    assert sum(base_scopes(base) is None for base in BASES) >= 5


def test_a_shared_memo_answers_as_uncached_resolution_in_any_order() -> None:
    memo = Resolutions()
    href_list = hrefs()
    forward = bases()
    checked = check_against_uncached(memo, forward, href_list)
    checked += check_against_uncached(memo, forward[::-1], href_list[::-1])
    shuffled = forward[:]
    random.Random(7).shuffle(shuffled)
    checked += check_against_uncached(memo, shuffled, href_list)
    assert checked == 3 * len(forward) * len(href_list)
    # The answers came from the memo, not only from parsing: all three kinds were stored.
    assert memo.scopes[""]["http://example.com/x#f"] == "http://example.com/x"
    assert memo.scopes["http://example.com"]["/x?q=1#f"] == "http://example.com/x?q=1"
    assert memo.scopes["http://example.com/a/b/"]["../x"] == "http://example.com/a/x"


def test_a_full_memo_is_emptied_and_still_answers_right() -> None:
    memo = Resolutions(size=7)
    href_list = hrefs()
    check_against_uncached(memo, BASES, href_list)
    check_against_uncached(memo, BASES[::-1], href_list)
    assert memo.entries <= 7
    assert sum(len(answers) for answers in memo.scopes.values()) + len(memo.scopes) <= 7 + 1


def test_scopes_are_the_parts_of_the_base_a_relative_href_depends_on() -> None:
    assert base_scopes("http://u:p@Example.COM:80/a/b/c?q#f") == (
        "http://u:p@example.com",
        "http://u:p@example.com/a/b/",
    )
    assert base_scopes("https://example.com:8443") == (
        "https://example.com:8443",
        "https://example.com:8443/",
    )
    assert base_scopes("http://[::1]/x") == ("http://[::1]", "http://[::1]/")
    assert base_scopes("ftp://example.com/a/") is None
    assert base_scopes("/relative") is None


def page(links: list[str], charset: str) -> bytes:
    anchors = "".join(f'<a href="{href}">{i}</a>' for i, href in enumerate(links))
    html = f'<html><head><meta charset="{charset}"><title>t</title></head><body>{anchors}</body>'
    return html.encode(charset, "xmlcharrefreplace")


def test_pages_in_other_encodings_share_no_answer_they_should_not() -> None:
    # The same non-ASCII queries on pages of one site, in UTF-8 and in windows-1252: a query is
    # encoded in its page's encoding before it reaches the memo, so the answers differ.
    links = ["/find?q=café", "find?q=café", "https://example.com/find?q=café", "/plain"]
    base = "https://example.com/dir/page"
    for _ in range(2):  # the second time, from the memo
        for charset in ("utf-8", "windows-1252"):
            found = [link.url for link in extract(page(links, charset), base).links]
            assert found == [resolve(base, encode_query(href, charset)) for href in links]
    utf8 = [link.url for link in extract(page(links, "utf-8"), base).links]
    latin = [link.url for link in extract(page(links, "windows-1252"), base).links]
    assert utf8[0] == "https://example.com/find?q=caf%C3%A9"
    assert latin[0] == "https://example.com/find?q=caf%E9"
    assert utf8[3] == latin[3] == "https://example.com/plain"


def test_the_same_relative_hrefs_on_pages_of_other_sites_and_directories() -> None:
    links = ["/", "/a/b", "x", "../y", "./z?q=1", "//cdn.example/s", "?page=2", "#top"]
    pages = [
        "https://example.com/",
        "https://example.com/one/two",
        "https://example.com/one/three/",
        "http://example.com/one/two",
        "https://example.com:8443/one/two",
        "https://other.example/one/two",
        "https://user:pw@example.com/one/two",
    ]
    for _ in range(2):
        for url in pages:
            found = [link.url for link in extract(page(links, "utf-8"), url).links]
            assert found == [resolve(url, href) for href in links]
    assert RESOLUTIONS.entries > 0


def test_destinations_key_keeps_all_that_host_of_reads() -> None:
    urls = [resolve(c["base"], c["input"]) for c in CASES if c["base"]]
    urls += [canonicalize(c["input"]) for c in CASES]
    urls += [resolve(base, href) for base in BASES for href in HREFS]
    canonical = sorted({u for u in urls if u})
    assert len(canonical) > 100
    for url in canonical:
        key = Destinations.key(url)
        assert url.startswith(key) and host_of(key) == host_of(url), url
    memo = Destinations(size=3)
    for _ in range(2):
        for url in canonical:
            key = Destinations.key(url)
            host = host_of(url)
            assert (memo.get(key) or memo.of(key)) == (host, registered_domain(host)), url
    assert len(memo.known) <= 3
    assert Destinations.key("http://a.example:8080/x/y?z") == "http://a.example:8080"
    assert Destinations.key("https://a/") == "https://a"
    assert Destinations.key("http://a") == "http://a"


def generated_hrefs(count: int, seed: int) -> list[str]:
    """Hrefs made of the pieces where "already canonical" ends: cases, ports, dot segments,
    percent-encoded dots, characters the parser encodes or rewrites, odd hosts. Each piece is
    most often a plain one, so that many hrefs are plain but for one piece."""
    rng = random.Random(seed)
    schemes = (["http://", "https://"], ["HTTP://", "http:", "ftp://", "", "//"])
    hosts = (
        ["example.com", "a.b-c.example", "-a-.example", "x", "a1.b2"],
        ["Example.com", "1.2.3.4", "0x7f.1", "a.123", "a.b.", "xn--bcher-kva.example",
         "xn--a.example", "a..b", "a b", "[::1]", "user:pw@example.com", "bücher.example",
         "a.0x1f", "", "a%41.example"],
    )  # fmt: skip
    ports = ([""], [":", ":0", ":80", ":443", ":8080", ":65535", ":65536", ":099", ":8o"])
    segments = (
        ["a", "b.html", "~u", "a;b=c", "x*y", "a.", "@", ":", "", "A-Z_9", "(x)", "a..b"],
        [".", "..", "%2e", "%2E", ".%2e", ".a", "a b", "é", "|", "^", "`", "{x}", "'", '"',
         "\\", "a\tb", "%41", "%zz", "<", ">", "a\nb"],
    )  # fmt: skip
    queries = (
        ["", "?", "?a=1&b=2", "?%", "?a/b?c", "?%41", "?a:b@c"],
        ["?a'b", "?é", "?a b", "?{x}", "?a|b", "?\\", "?a\tb", "?<"],
    )
    fragments = (["", "#", "#f"], ["#a b", "#\t", "#é", "# ", "#\ud800", "#\n"])

    def piece(choices: tuple[list[str], list[str]]) -> str:
        return rng.choice(choices[0] if rng.random() < 0.85 else choices[1])

    found = []
    for _ in range(count):
        path = "/" + "/".join(piece(segments) for _ in range(rng.randint(0, 4)))
        tail = path + piece(queries) + piece(fragments)
        if rng.random() < 0.4:
            found.append(tail if rng.random() < 0.9 else tail[1:])
        else:
            host = piece(hosts) + piece(ports)
            found.append(piece(schemes) + host + (tail if rng.random() < 0.95 else ""))
    return found


def test_hrefs_taken_as_already_canonical_are_what_the_parser_makes_of_them() -> None:
    href_list = generated_hrefs(6000, seed=11)
    taken = [h for h in href_list if plain_url(h) is not None]
    paths = [h for h in href_list if plain_path(h) is not None]
    assert len(taken) > 200 and len(paths) > 200  # the shortcuts are exercised
    for href in taken:
        assert plain_url(href) == resolve("http://base.example/x", href), href
    origins = {
        "http://example.com/a/b": "http://example.com",
        "https://a.example:8443/": "https://a.example:8443",
        "http://[::1]/x": "http://[::1]",
    }
    for href in paths:
        for base, origin in origins.items():
            assert f"{origin}{plain_path(href)}" == resolve(base, href), (base, href)


def test_a_shared_memo_answers_generated_hrefs_as_uncached_resolution() -> None:
    memo = Resolutions()
    href_list = generated_hrefs(3000, seed=5)
    pages = [
        "http://example.com/a/b",
        "http://example.com/a/c",
        "https://example.com/a/b",
        "http://u:p@example.com/a/b",
        "http://xn--a.example/a/",
        "http://example.com:8080/",
    ]
    for order in (pages, pages[::-1]):
        assert check_against_uncached(memo, order, href_list) == len(pages) * len(href_list)
