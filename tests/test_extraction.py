"""Link extraction: what one parse of a page yields, case by case."""

from __future__ import annotations

import random

import pytest

from crawler.extraction import Limits, extract, redirect_link
from crawler.items import Link, ParsedPage
from crawler.nesting import SAFE_TAGS, too_deep_at

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
        Link("https://www.example.com/map", "Map area", frozenset(), "area", "area"),
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
        "https://www.example.com/moved", "", frozenset(), "redirect", "redirect"
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


# -- bounds on one page (LINKGRAPH_MAX_*) ---------------------------------------------------------
def test_a_link_to_an_overlong_url_is_counted_not_stored_cut() -> None:
    long_path = "/" + "x" * 8192  # 8,217 characters once resolved: over the 8,192 bound
    fits = "/" + "y" * (8192 - len("https://www.example.com/"))  # exactly 8,192
    page = extract(f'<a href="{long_path}">a</a><a href="{fits}">b</a>'.encode(), PAGE)
    assert [link.url for link in page.links] == ["https://www.example.com" + fits]
    assert len(page.links[0].url) == 8192
    assert page.incomplete == "links to URLs over 8192 characters not recorded: 1"


def test_an_overlong_canonical_or_redirect_target_is_not_recorded() -> None:
    long_path = "/" + "x" * 9000
    page = extract(f'<link rel="canonical" href="{long_path}"><a href="/ok">ok</a>'.encode(), PAGE)
    assert page.canonical == ""
    assert urls_of(page) == ["https://www.example.com/ok"]
    assert page.incomplete == "links to URLs over 8192 characters not recorded: 1"
    assert redirect_link(PAGE, long_path) is None
    assert redirect_link(PAGE, long_path, 0) is not None  # 0 = no bound


def urls_of(page: ParsedPage) -> list[str]:
    return [link.url for link in page.links]


def test_anchor_text_is_cut_at_a_character_boundary() -> None:
    text = "é" * 1000 + "漢字" * 100  # 1,200 characters, 2,600 UTF-8 bytes
    page = extract(f'<a href="/x">{text}</a><area href="/y" alt="{text}">'.encode(), PAGE)
    assert [link.anchor for link in page.links] == [text[:1024], text[:1024]]
    assert page.links[0].anchor.endswith("漢字" * 12)
    assert page.incomplete == ""
    wide = extract(f'<a href="/x">{text}</a>'.encode(), PAGE, limits=Limits(anchor_length=0))
    assert wide.links[0].anchor == text


def test_links_over_the_recorded_bound_are_counted() -> None:
    html = "".join(f'<a href="/p{i}">{i}</a>' for i in range(30)) + '<a href="mailto:x">m</a>'
    page = extract(html.encode(), PAGE, limits=Limits(links=25))
    assert urls_of(page) == [f"https://www.example.com/p{i}" for i in range(25)]
    assert page.incomplete == "25 links recorded: 6 more <a>/<area> not read"
    # Past the bound nothing is read, not even to see whether it is a link.
    page = extract(html.encode(), PAGE, limits=Limits(links=30))
    assert len(page.links) == 30
    assert page.incomplete == "30 links recorded: 1 more <a>/<area> not read"
    assert extract(html.encode(), PAGE, limits=Limits(links=31)).incomplete == ""


def nested(depth: int, tag: str = "div") -> bytes:
    # A link before, one deep inside, and one after the nesting; padded past SAFE_TAGS.
    pad = "<span>x</span>" * SAFE_TAGS
    return (
        f'<title>deep</title>{pad}<a href="/before">before</a>'
        + f"<{tag}>" * depth + '<a href="/inside">inside</a>' + f"</{tag}>" * depth
        + '<a href="/after">after</a>'
    ).encode()  # fmt: skip


def test_a_page_nested_deeper_than_the_bound_is_parsed_up_to_there() -> None:
    page = extract(nested(600), PAGE)
    assert page.title == "deep"
    assert urls_of(page) == ["https://www.example.com/before"]
    assert page.incomplete == "nested deeper than 512 elements: the rest not parsed"
    # 512 levels in all (the <div>s and the <a> inside them) is within the bound
    page = extract(nested(511), PAGE)
    assert urls_of(page) == [f"https://www.example.com/{p}" for p in ("before", "inside", "after")]
    assert page.incomplete == ""


@pytest.mark.parametrize(
    "html",
    [
        "<p>x" * 5000,  # unclosed paragraphs close each other
        "<ul>" + "<li>x" * 5000 + "</ul>",
        "<table>" + "<tr><td>x<td><div>y</td>" * 2000 + "</table>",  # cells close their divs
        "<dl>" + "<dt>a<dd>b" * 3000 + "</dl>",
        "<svg>" + '<path d="M0 0"/>' * 5000 + "</svg>",
        "<b><p>x</b></p>" * 3000,  # misnested formatting
        "<script>" + "'<div>'+" * 5000 + "</script>",
        "<!--" + "<div>" * 5000 + "-->",
        "<form>x" * 5000,  # a <form> inside a <form> is ignored
        "<button><p>x" * 3000,  # a <button> ends the open one
        "<nobr>x" * 5000,
    ],
)
def test_broad_pages_of_many_tags_are_not_cut(html: str) -> None:
    page = extract(f'{html}<a href="/end">end</a>'.encode(), PAGE)
    assert (urls_of(page), page.incomplete) == (["https://www.example.com/end"], "")


@pytest.mark.parametrize(
    ("html", "cut_at"),
    [
        ("<div>" * 1000, 5 * 512),  # the 513th <div>
        ("<span>" * 1000, 6 * 512),  # cheap to parse, but every later <div> would walk them all
        # </div> cannot reach past the <table>: the 512th <table> is one too many
        ("<div><table></div></table>" * 600, 26 * 511 + 5),
        ("<svg>" + "<div/>" * 1000, 5 + 6 * 512),  # <div> leaves the svg; <div/> is not void
        ("<svg><title>" + "<div>" * 1000, 12 + 5 * 510),  # in svg, <title> is not raw text
        ("<span>" + "</x><em>" * 1000, 6 + 8 * 511 + 4),  # an unmatched end tag closes nothing
        ("<ab>x</a>" * 1000, 9 * 512),  # </a> does not end <ab>
        ("<svg><div>x</div>" + "<div/>" * 1000, 17 + 6 * 512),  # the first <div> left the svg
    ],
)
def test_deep_nesting_is_found_however_it_is_built(html: str, cut_at: int) -> None:
    pad = "<i>x</i>" * SAFE_TAGS
    assert too_deep_at((pad + html).encode(), 512) == len(pad) + cut_at


def test_a_page_of_few_tags_is_not_scanned() -> None:
    assert too_deep_at(b"<div>" * (SAFE_TAGS - 1), 512) == -1


def test_link_extraction_stops_at_its_time_bound() -> None:
    # The clock is read every 256 anchors; a bound already past stops the walk at the first look.
    html = "".join(f'<a href="/p{i}">{i}</a>' for i in range(300))
    page = extract(html.encode(), PAGE, limits=Limits(seconds=1e-9))
    assert urls_of(page) == [f"https://www.example.com/p{i}" for i in range(256)]
    assert page.incomplete == "link extraction over 1e-09 s: 44 <a>/<area> not read"


def test_the_nesting_bound_holds_in_every_encoding() -> None:
    html = "<i>x</i>" * SAFE_TAGS + '<a href="/é">é</a>' + "<div>" * 600 + '<a href="/in">in</a>'
    utf16 = extract(html.encode("utf-16"), PAGE)  # with its byte-order mark
    latin = extract(html.encode("cp1252"), PAGE, encoding="windows-1252")
    for page in (utf16, latin):
        assert [(link.url, link.anchor) for link in page.links] == [
            ("https://www.example.com/%C3%A9", "é")
        ]
        assert page.incomplete == "nested deeper than 512 elements: the rest not parsed"


# -- issue 12's defects: each test fails on the extraction before its fix ----------------------
def test_svg_links_have_their_real_target_never_the_page_itself() -> None:
    html = (
        '<svg><a xlink:href="/from-xlink"><text>xlink</text></a>'
        '<a href="/from-href" xlink:href="/ignored"><text>both</text></a></svg>'
        '<a xlink:href="/not-a-link">an HTML a with only xlink:href</a>'
    )
    assert [(link.url, link.anchor) for link in links(html)] == [
        ("https://www.example.com/from-xlink", "xlink"),
        ("https://www.example.com/from-href", "both"),  # SVG 2: href wins over xlink:href
    ]


def test_a_charset_declared_after_the_first_1024_bytes_is_applied() -> None:
    pad = "<!-- " + "x" * 5000 + " -->"  # past the prescan of lexbor (1024) and w3lib (4096)
    html = f'<html><head>{pad}<meta charset="iso-8859-1"><title>vetgép</title></head>'
    html += '<body><a href="/vetgép?q=vetgép">vetgép</a></body></html>'
    page = extract(html.encode("cp1252"), PAGE)
    assert page.title == "vetgép"
    assert [(link.url, link.anchor) for link in page.links] == [
        ("https://www.example.com/vetg%C3%A9p?q=vetg%E9p", "vetgép")
    ]


def test_a_late_windows_1250_charset_is_applied() -> None:
    pad = "<p>" + "filler " * 300 + "</p>"
    html = f'<body>{pad}<meta charset="windows-1250"><a href="/niepełnosprawni">niepełnosprawni</a>'
    assert [(link.url, link.anchor) for link in links(html.encode("cp1250"))] == [
        ("https://www.example.com/niepe%C5%82nosprawni", "niepełnosprawni")
    ]


# -- link types --------------------------------------------------------------------------------
def typed(html: str, **kwargs) -> list[tuple[str, str, str, str]]:
    return [(link.type, link.url, link.anchor, link.tag) for link in links(html, **kwargs)]


def test_every_link_type_in_document_order() -> None:
    html = (
        '<head><link rel="canonical" href="/canon"><link rel="canonical" href="/second">'
        '<link rel="alternate" hreflang="de" href="/de/"><link rel="alternate" href="/feed">'
        '<link rel="stylesheet" href="/s.css"></head>'
        '<a href="/t">text</a><a href="/i"><img src="x.png" alt="Logo"></a>'
        '<a href="/n"><img src="x.png"></a><a href="/e"></a>'
        '<map><area href="/m" alt="Map"></map><iframe src="/if"></iframe>'
        '<form action="/act" method="post"></form><form></form><form action=" "></form>'
    )
    assert typed(html) == [
        ("canonical", "https://www.example.com/canon", "", "link"),  # the first one only
        ("hreflang", "https://www.example.com/de/", "", "link"),
        ("text", "https://www.example.com/t", "text", "a"),
        ("image", "https://www.example.com/i", "Logo", "a"),
        ("image", "https://www.example.com/n", "", "a"),  # an image without alt
        ("text", "https://www.example.com/e", "", "a"),
        ("area", "https://www.example.com/m", "Map", "area"),
        ("frame", "https://www.example.com/if", "", "iframe"),
        ("form", "https://www.example.com/act", "", "form"),  # no action: no link
    ]


def test_frames_of_a_frameset() -> None:
    html = '<frameset><frame src="left.html"><frame src="//cdn.example.net/r"></frameset>'
    assert typed(html) == [
        ("frame", "https://www.example.com/a/left.html", "", "frame"),
        ("frame", "https://cdn.example.net/r", "", "frame"),
    ]


def test_link_header_canonical_and_hreflang() -> None:
    header = [
        '</canon>; rel="canonical", <https://de.example.com/>; rel="alternate"; hreflang="de",'
        " </style.css>; rel=preload; as=style",
        '<https://x.example/a,b>; title="a, b; c"; rel="alternate nofollow"; hreflang=fr; rel=x',
    ]
    page = extract(b'<base href="/other/"><a href="p">p</a>', PAGE, link_header=header)
    assert [(link.type, link.url, link.tag, link.rel) for link in page.links] == [
        # relative to the response's URL, not to <base>
        ("canonical", "https://www.example.com/canon", "header", frozenset({"canonical"})),
        ("hreflang", "https://de.example.com/", "header", frozenset({"alternate"})),
        ("hreflang", "https://x.example/a,b", "header", frozenset({"alternate", "nofollow"})),
        ("text", "https://www.example.com/other/p", "a", frozenset()),
    ]
    assert page.canonical == "https://www.example.com/canon"
    # the tag, when there is one, is the page's canonical
    tagged = extract(b'<link rel=canonical href="/tag">', PAGE, link_header=["</h>; rel=canonical"])
    assert tagged.canonical == "https://www.example.com/tag"
    assert [link.url for link in tagged.links] == [
        "https://www.example.com/h",
        "https://www.example.com/tag",
    ]
