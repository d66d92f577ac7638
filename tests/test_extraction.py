"""Link extraction: what one parse of a page yields, case by case."""

from __future__ import annotations

import random

import pytest

from crawler.extraction import extract, redirect_link
from crawler.items import Link, ParsedPage

PAGE = "https://www.example.com/a/b.html"


def links(html: str | bytes, url: str = PAGE, **kwargs) -> list[Link]:
    body = html.encode() if isinstance(html, str) else html
    return extract(body, url, **kwargs).links


def urls(html: str | bytes, url: str = PAGE, **kwargs) -> list[str]:
    return [link.url for link in links(html, url, **kwargs)]


def test_base_href_is_relative_to_page_and_only_first_counts() -> None:
    html = '<a href="x">1</a><base href="/sub/dir/"><base href="/other/"><a href="y">2</a>'
    # The first <base> applies to the whole document, links before it included.
    assert urls(html) == ["https://www.example.com/sub/dir/x", "https://www.example.com/sub/dir/y"]


@pytest.mark.parametrize("base", ["http://[bad", "javascript:void(0)", "mailto:x@example.com"])
def test_unusable_base_falls_back_to_page_url(base: str) -> None:
    assert urls(f'<base href="{base}"><a href="y">2</a>') == ["https://www.example.com/a/y"]


def test_relative_and_protocol_relative_links() -> None:
    html = '<a href="../up">1</a><a href="?q=1">2</a><a href="//Other.example/x">3</a><a href="">4'
    assert urls(html) == [
        "https://www.example.com/up",
        "https://www.example.com/a/b.html?q=1",
        "https://other.example/x",
        "https://www.example.com/a/b.html",
    ]


def test_fragments_are_dropped() -> None:
    assert urls('<a href="#top">t</a><a href="/p?x=1#frag">p</a>') == [
        "https://www.example.com/a/b.html",
        "https://www.example.com/p?x=1",
    ]


def test_whitespace_and_entities_in_href() -> None:
    html = (
        '<a href="  /a b\n c\t ">s</a>'
        '<a href="/s?a=1&amp;b=2&lt;&copy=3">e</a>'  # "&copy=" is no entity inside attributes
        '<a href="&#x2F;num&#47;ref">n</a>'
    )
    assert urls(html) == [
        "https://www.example.com/a%20b%20c",
        "https://www.example.com/s?a=1&b=2%3C&copy=3",
        "https://www.example.com/num/ref",
    ]


def test_host_normalisation() -> None:
    html = (
        '<a href="HTTP://WWW.EXAMPLE.COM:80/Path">upper</a>'
        '<a href="http://bücher.example/">idn</a>'
        '<a href="https://example.com:443/x">default https port</a>'
        '<a href="https://example.com:8443/x">explicit port</a>'
    )
    assert urls(html) == [
        "http://www.example.com/Path",
        "http://xn--bcher-kva.example/",
        "https://example.com/x",
        "https://example.com:8443/x",
    ]


def test_non_http_schemes_are_dropped() -> None:
    html = (
        '<a href="javascript:go()">j</a><a href="mailto:a@example.com">m</a><a href="\ttel:1">t</a>'
        '<a href="ftp://example.com/f">f</a><a href="data:text/html,x">d</a><a href="/ok">ok</a>'
    )
    assert urls(html) == ["https://www.example.com/ok"]


def test_links_in_comments_scripts_templates_textareas_are_ignored() -> None:
    html = (
        '<!-- <a href="/comment">c</a> -->'
        "<script>document.write('<a href=\"/script\">s</a>')</script>"
        '<template><a href="/template">t</a></template>'
        '<textarea><a href="/textarea">x</a></textarea>'
        '<style>a[href="/style"] {}</style>'
        '<noscript><a href="/noscript">n</a></noscript>'  # parsed as markup: we run no scripts
        '<a name="no-href">x</a><a href="/real">r</a>'
    )
    assert urls(html) == ["https://www.example.com/noscript", "https://www.example.com/real"]


def test_anchor_text_rules() -> None:
    html = (
        '<a href="/1">  Read <b>the</b>&nbsp;full\n\tstory </a>'
        '<a href="/2"><img alt=" Company  logo "> <img src="x.png"><img alt="home"></a>'
        '<a href="/3">text wins<img alt="ignored"></a>'
        '<a href="/4"><img src="no-alt.png"></a>'
    )
    assert [link.anchor for link in links(html)] == [
        "Read the full story",
        "Company logo home",
        "text wins",
        "",
    ]


def test_rel_tokens() -> None:
    html = (
        '<a href="/1" rel="NoFollow UGC">1</a><a href="/2" rel="sponsored">2</a>'
        '<a href="/3" rel=" noopener\tnoreferrer ">3</a><a href="/4">4</a>'
    )
    found = links(html)
    assert [link.rel for link in found] == [
        frozenset({"nofollow", "ugc"}),
        frozenset({"sponsored"}),
        frozenset({"noopener", "noreferrer"}),
        frozenset(),
    ]
    assert [link.qualified for link in found] == [True, True, False, False]
    assert found[0].nofollow and found[0].ugc and found[1].sponsored


def test_area_links_duplicates_and_document_order() -> None:
    html = (
        '<a href="/x">first</a><map name="m"><area href="/map" alt=" Map   area ">'
        '<area shape="rect" alt="no href"></map><a href="/x">first</a>'
    )
    assert links(html) == [
        Link("https://www.example.com/x", "first", frozenset(), "a"),
        Link("https://www.example.com/map", "Map area", frozenset(), "area"),
        Link("https://www.example.com/x", "first", frozenset(), "a"),
    ]


def test_title_and_canonical() -> None:
    html = (
        "<head><title>  A \n title  </title>"
        '<link rel="stylesheet" href="/s.css"><link rel="Canonical" href="/canon?a=1#f">'
        '<link rel="canonical" href="/second"></head>'
    )
    page = extract(html.encode(), PAGE)
    assert (page.title, page.canonical) == ("A title", "https://www.example.com/canon?a=1")


def test_canonical_absent_or_not_http() -> None:
    assert extract(b"<title>t</title>", PAGE).canonical == ""
    assert extract(b'<link rel=canonical href="ftp://x/">', PAGE).canonical == ""


@pytest.mark.parametrize(
    ("meta", "expected"),
    [
        ('<meta name="robots" content="index, follow">', (False, False)),
        ('<meta name="robots" content="nofollow">', (False, True)),
        ('<meta name="ROBOTS" content="NoIndex">', (True, False)),
        ('<meta name="robots" content="none">', (True, True)),
        ('<meta name="LinkGraph" content="noindex,nofollow">', (True, True)),
        ('<meta name="googlebot" content="noindex, nofollow">', (False, False)),
        (
            '<meta name="robots" content="max-snippet:-1"><meta name="robots" content="nofollow">',
            (False, True),
        ),
    ],
)
def test_meta_robots(meta: str, expected: tuple[bool, bool]) -> None:
    page = extract(f"<head>{meta}</head><a href=/x>x</a>".encode(), PAGE)
    assert (page.noindex, page.nofollow) == expected
    assert len(page.links) == 1  # page-level nofollow records the links all the same


def test_meta_for_a_custom_agent() -> None:
    html = b'<meta name="otherbot" content="none">'
    assert extract(html, PAGE, agent="OtherBot").noindex
    assert not extract(html, PAGE).noindex


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("noindex, nofollow", (True, True)),
        ("NONE", (True, True)),
        ("linkgraph: nofollow", (False, True)),
        ("LinkGraph: noindex, nofollow", (True, True)),
        ("googlebot: noindex", (False, False)),
        ("nofollow, googlebot: noindex", (False, True)),
        ("unavailable_after: 25 Jun 2010 15:00:00 PST, noindex", (True, False)),
        (["googlebot: none", "linkgraph: noindex"], (True, False)),
        (["max-snippet: 20", "nofollow"], (False, True)),
        ([], (False, False)),
    ],
)
def test_x_robots_tag(header: str | list[str], expected: tuple[bool, bool]) -> None:
    page = extract(b"<a href=/x>x</a>", PAGE, x_robots_tag=header)
    assert (page.noindex, page.nofollow) == expected


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"\x00" * 1000,
        bytes(range(256)) * 64,
        random.Random(7).randbytes(50_000),
        b'<a href="/unterminated',
        b"<a href=/deep>" + b"<div>" * 5000 + b"x",
        b"\xff\xfe<\x00a\x00",  # a UTF-16 BOM, then half a character
        b"<svg><a href=/in-svg>svg</a></svg><math><a href=/m>",
    ],
)
def test_malformed_and_binary_input_never_raises(body: bytes) -> None:
    page = extract(body, PAGE)
    assert isinstance(page, ParsedPage)
    for encoding in ("utf-8", "utf-16", "base64", "no-such-charset"):
        assert isinstance(extract(body, PAGE, encoding=encoding), ParsedPage)


def test_garbage_page_url_gives_no_links() -> None:
    assert extract(b'<a href="x">x</a><a href="/y">y</a>', "not a url").links == []


def test_encoding_from_http_header() -> None:
    body = "<title>Привет</title><a href='/q?x=1'>Привет мир</a>".encode("windows-1251")
    page = extract(body, PAGE, encoding="windows-1251")
    assert (page.title, page.links[0].anchor) == ("Привет", "Привет мир")


def test_latin1_label_means_windows_1252() -> None:
    page = extract(b"<a href=/x>\x93quoted\x94</a>", PAGE, encoding="ISO-8859-1")
    assert page.links[0].anchor == "\u201cquoted\u201d"


def test_meta_charset_is_sniffed_without_http_charset() -> None:
    body = '<meta charset="koi8-r"><title>Привет</title>'.encode("koi8-r")
    assert extract(body, PAGE).title == "Привет"


def test_byte_order_mark_beats_http_charset() -> None:
    assert extract(b"\xef\xbb\xbf<title>caf\xc3\xa9</title>", PAGE, encoding="latin1").title == (
        "café"
    )


def test_redirect_link() -> None:
    assert redirect_link(PAGE, "/moved#x") == Link(
        "https://www.example.com/moved", "", frozenset(), "redirect"
    )
    assert redirect_link(PAGE, "javascript:x") is None
    assert redirect_link(PAGE, "http://[bad") is None


def test_typical_page_yields_every_link() -> None:
    rnd = random.Random(3)
    words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"]
    parts = ["<!DOCTYPE html><html><head><title>Typical</title></head><body>"]
    for i in range(100):
        text = " ".join(rnd.choices(words, k=4))
        parts.append(f'<p>{text} <a href="/post/{i}?ref=home" class="l">{text}</a></p>')
    parts.append("<p>" + " ".join(rnd.choices(words, k=5500)) + "</p></body></html>")
    body = "".join(parts).encode()
    assert len(body) > 40_000
    found = links(body)
    assert [link.url for link in found] == [
        f"https://www.example.com/post/{i}?ref=home" for i in range(100)
    ]
