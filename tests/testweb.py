"""The hand-made test web and its exact ground truth, for the crawler's end-to-end tests.

35 hosts under 17 registered domains, served by `LocalWebServer` on one port. Each page
declares its links as written and as a browser resolves them (tests/webmodel.py); the ground
truth is a breadth-first crawl of those declarations from `seeds()` (tests/webtruth.py).

Hosts that must never be requested at all: trap.example.com (only linked from places that are
not links), hidden.example.com and secret.example.org (only linked from nofollow pages),
mirror.example.net (robots.txt answers 500, so only /robots.txt may be fetched).
"""

from __future__ import annotations

import struct
import zlib

from tests.webmodel import Host, Link, Page, Robots, url
from tests.webtruth import DeclaredWeb

L = Link
U = url
# robots.txt variants that allow everything
ALLOW_ALL = Robots("User-agent: *\nDisallow:\n")  # an empty Disallow allows all
NO_ROBOTS = Robots()  # no robots.txt: 404, everything allowed
TRAP = "trap.example.com"
KINDS = "kinds.example.net"
INTL = "intl.example.net"
MAPS = "maps.example.net"
SITEMAP_NS = 'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'
# Markup that mentions URLs without being links: a parser must find none of them.
NOT_LINKS = (
    f'<!-- <a href="{U(TRAP, "/comment")}">in a comment</a> -->\n'
    f"<script>var s = '<a href=\"{U(TRAP, '/script')}\">in a script</a>';</script>\n"
    f'<template><a href="{U(TRAP, "/template")}">in a template</a></template>\n'
)


def _png() -> bytes:
    """A valid 1x1 grey PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data)
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0\x80"))


def _leaf(path: str, title: str, *links: Link) -> Page:
    return Page(path, title, links=links)


EXAMPLE_COM = (
    Host(
        "www.example.com",
        "example.com",
        Robots("User-agent: *\nDisallow: /search\n", rules=(("disallow", "/search"),)),
        note="the seed: a hub with most of the link-syntax cases",
        pages=(
            Page(
                "/",
                "Example home",
                links=(
                    L(U("www.example.com", "/about"), "About us", href="/about"),
                    L(U("news.example.com"), "News"),
                    # protocol-relative: takes the page's scheme
                    L(U("shop.example.co.uk"), "Shop", href="//shop.example.co.uk:{port}/"),
                    # uppercase host: lowercased, while the path keeps its case
                    L(
                        U("www.example.co.uk", "/About"),
                        "Example UK",
                        href="http://WWW.EXAMPLE.CO.UK:{port}/About",
                    ),
                    # the same destination twice: nofollow and plain -> followed, two anchors
                    L(U("alice.github.io"), "Alice's blog", rel="nofollow"),
                    L(U("alice.github.io"), "Alice"),
                    # robots.txt disallows /search: recorded with error "robots", not fetched
                    L(U("www.example.com", "/search?q=links"), "Search", href="/search?q=links"),
                    L(U("docs.example.org"), "Docs"),
                    L(U("wiki.example.org", "/wiki/Main_Page"), "Wiki"),
                    L(U("static.example.com", "/files/report.pdf"), "Annual report (PDF)"),
                    L(U("forum.example.com"), "Forum"),
                    L(U("m.example.com"), "Mobile site"),
                    L(U("go.example.info", "/old"), "Old link"),
                    # IDN host written in Unicode: becomes punycode
                    L(U("xn--bcher-kva.de"), "Bücher", href="http://bücher.de:{port}/"),
                    L(U("mirror.example.net"), "Mirror"),  # robots.txt 500: never fetched
                    L(U("gone.example.net", "/page"), "Dead link"),  # a host with no pages
                    L(U(KINDS), "Link kinds"),  # links of every type
                    L(U(INTL), "International"),  # pages in other encodings
                    L(U(MAPS), "Site maps"),  # its robots.txt names sitemaps
                    # not http(s): dropped
                    L(None, "Mail us", href="mailto:hello@example.com"),
                    L(None, "Menu", href="javascript:void(0)"),
                    L(None, markup='<a name="top">An anchor without href</a>'),
                    # a fragment-only link is the page itself
                    L(U("www.example.com", "/"), "Skip to content", href="#main"),
                ),
                noise=NOT_LINKS,
            ),
            Page(
                "/about",
                "About",
                links=(
                    L(U("www.example.com", "/team"), "Team", href="team"),  # relative
                    # relative with ./, query and fragment: the fragment goes
                    L(
                        U("www.example.com", "/contact?lang=en"),
                        "Contact",
                        href="./contact?lang=en#form",
                    ),
                    L(U("bob.github.io"), "Bob", rel="sponsored"),
                    # whitespace around the href and an entity inside it
                    L(U("www.example.com", "/a?x=1&y=2"), "Entity link", href=" /a?x=1&amp;y=2 "),
                    L(U("www.example.com", "/missing"), "Missing page", href="/missing"),
                    L(U("www.example.com", "/broken"), "Broken page", href="/broken"),
                    # nested elements, an entity and a line break in the anchor text
                    L(
                        U("shop.example.co.uk", "/products/widget"),
                        "Blue & green widgets",
                        markup='<a href="http://shop.example.co.uk:{port}/products/widget">'
                        "<b>Blue</b> &amp; <i>green</i>\n      widgets</a>",
                    ),
                ),
            ),
            Page(
                "/team",
                "Team",
                links=(
                    # an image-only anchor: its alt is the anchor text
                    L(
                        U("alice.github.io", "/about"),
                        "Alice portrait",
                        type="image",
                        markup='<a href="http://alice.github.io:{port}/about">'
                        '<img src="/img/alice.png" alt="Alice portrait"></a>',
                    ),
                    # an image without alt: an empty anchor
                    L(
                        U("bob.github.io", "/projects"),
                        "",
                        type="image",
                        markup='<a href="http://bob.github.io:{port}/projects">'
                        '<img src="/img/bob.png"></a>',
                    ),
                ),
            ),
            _leaf(
                "/contact?lang=en",
                "Contact",
                L(U("static.example.com", "/img/logo.png"), "Logo"),
                L(U("static.example.com", "/api/data.json"), "Data"),
                L(U("static.example.com", "/notes.txt"), "Notes"),
            ),
            _leaf("/a?x=1&y=2", "Query page", L(U("www.example.com"), "Home", href="/")),
            # error pages: their bodies have links, which a crawler must not extract
            Page("/missing", "Not found", status=404, links=(L(U(TRAP, "/from-404"), "x"),)),
            Page("/broken", "Oops", status=500, links=(L(U(TRAP, "/from-500"), "x"),)),
            _leaf("/search?q=links", "Search results", L(U(TRAP, "/search"), "x")),
        ),
    ),
    Host(
        "news.example.com",
        "example.com",
        NO_ROBOTS,
        pages=(
            _leaf(
                "/",
                "News front page",
                L(
                    U("news.example.com", "/2024/links-study"),
                    "Link study",
                    href="2024/links-study",
                ),
                L(U("news.example.com", "/2024/rels"), "Rel variants", href="/2024/rels"),
                L(U("www.example.com"), "Home"),  # same registered domain: not a backlink
            ),
            _leaf(
                "/2024/links-study",
                "A study of links",
                L(U("shop.example.co.uk", "/products/widget"), "Blue widget"),
                L(U("blog.example.co.uk", "/posts/1"), "Blog post", rel="nofollow"),
                L(U("bob.github.io", "/projects"), "Bob's projects", rel="ugc"),
                # mixed-case rel tokens; then a plain link to the same URL makes it followed
                L(U("www.northwind.co.uk"), "Northwind", rel="NoFollow UGC"),
                L(U("www.northwind.co.uk"), "Northwind Traders", rel="noopener noreferrer"),
            ),
            _leaf(
                "/2024/rels",
                "Every rel",
                L(U("alice.github.io", "/posts/nofollow"), "nofollow link", rel="nofollow"),
                L(U("alice.github.io", "/posts/ugc"), "ugc link", rel="ugc"),
                L(U("alice.github.io", "/posts/sponsored"), "sponsored link", rel="sponsored"),
                L(U("alice.github.io", "/posts/mixed"), "mixed case rel", rel="NoFollow UGC"),
                L(U("alice.github.io", "/posts/plain"), "plain link"),
                L(
                    U("alice.github.io", "/posts/external"),
                    "external link",
                    rel="noopener external",
                ),
                # an image-map area: a link with an empty anchor
                L(
                    U("bob.github.io", "/map"),
                    "",
                    tag="area",
                    type="area",
                    markup='<img src="/map.png" usemap="#m"><map name="m"><area shape="rect" '
                    'coords="0,0,9,9" href="http://bob.github.io:{port}/map"></map>',
                ),
            ),
        ),
    ),
    Host(
        "static.example.com",
        "example.com",
        NO_ROBOTS,
        note="non-HTML files; URLs inside them are not links",
        pages=(
            Page(
                "/files/report.pdf",
                content_type="application/pdf",
                body=b"%PDF-1.4\n% see http://trap.example.com:{port}/pdf\n%%EOF\n",
            ),
            Page("/img/logo.png", content_type="image/png", body=_png()),
            Page(
                "/api/data.json",
                content_type="application/json",
                body='{"home": "http://trap.example.com:{port}/json",'
                ' "html": "<a href=\\"http://trap.example.com:{port}/json\\">x</a>"}\n',
            ),
            Page(
                "/notes.txt",
                content_type="text/plain",
                body='Not HTML: <a href="http://trap.example.com:{port}/text">x</a>\n',
            ),
        ),
    ),
    Host(
        "forum.example.com",
        "example.com",
        Robots("User-agent: *\nAllow: /\n"),
        note="user content and page-level nofollow",
        pages=(
            _leaf(
                "/",
                "Forum",
                *(L(U("forum.example.com", f"/thread/{i}"), f"Thread {i}") for i in range(1, 6)),
            ),
            Page(
                "/thread/1",
                "Thread 1",
                meta_robots=("robots", "index, follow"),  # explicit follow: no effect
                links=(
                    L(U("bob.github.io"), "bob", rel="ugc nofollow"),
                    L(U("deals.example.biz"), "cheap deals", rel="ugc"),
                ),
            ),
            Page(
                "/thread/2",
                "Thread 2",
                # meta robots nofollow: links recorded (follow=0) but never crawled
                meta_robots=("robots", "noindex, nofollow"),
                links=(
                    L(U("hidden.example.com", "/only-via-nofollow"), "Hidden"),
                    L(U("secret.example.org"), "Secret site"),
                    L("https://bob.github.io/secure", "Bob secure"),
                    # the default port is dropped from the URL
                    L("http://bob.github.io/x", "Bob on port 80", href="http://bob.github.io:80/x"),
                    # crawled through other pages; this occurrence does not follow
                    L(U("shop.example.co.uk", "/products/widget"), "Widget again"),
                ),
            ),
            Page(
                "/thread/3",
                "Thread 3",
                x_robots="nofollow",  # the header says nofollow
                links=(
                    L(U("secret.example.org", "/xrobots"), "Secret via header"),
                    L(U("alice.github.io"), "Alice again"),
                ),
            ),
            Page(
                "/thread/4",
                "Thread 4",
                # addressed to another crawler: our crawler follows these links
                meta_robots=("googlebot", "nofollow"),
                links=(L(U("bob.github.io", "/googlebot"), "Bob (googlebot meta)"),),
            ),
            Page(
                "/thread/5",
                "Thread 5",
                meta_robots=("robots", "none"),  # none = noindex, nofollow
                links=(
                    L(U("hidden.example.com", "/via-none"), "via none"),
                    L(U("carol.github.io", "/via-none"), "Carol via none"),
                ),
            ),
        ),
    ),
    Host(
        "hidden.example.com",
        "example.com",
        ALLOW_ALL,
        note="only linked from nofollow pages: never requested",
        pages=(_leaf("/only-via-nofollow", "Hidden"), _leaf("/via-none", "Hidden too")),
    ),
    Host(
        TRAP,
        "example.com",
        ALLOW_ALL,
        note="only 'linked' from comments, scripts, files, error pages: never requested",
        pages=tuple(
            _leaf(p, "Trap")
            for p in (
                "/",
                "/comment",
                "/script",
                "/template",
                "/from-404",
                "/from-500",
                "/search",
                "/pdf",
                "/json",
                "/text",
                "/base/",
                "/base/Linking",
                "/checkout",
                "/draft",
                "/roadmap",
                "/mirror",
                "/xlink",
            )
        ),
    ),
    Host(
        "m.example.com",
        "example.com",
        ALLOW_ALL,
        pages=(
            _leaf(
                "/",
                "Example mobile",
                L(U("www.example.com"), "Desktop site"),
                L(U("www.example.co.jp"), "Japan"),
            ),
        ),
    ),
)

EXAMPLE_CO_UK = (
    Host(
        "shop.example.co.uk",
        "example.co.uk",
        Robots(
            # the linkgraph group replaces the * group: /private/ and /products/ are allowed
            "User-agent: *\nDisallow: /private/\nDisallow: /products/\n\n"
            "User-agent: linkgraph\nDisallow: /checkout\nAllow: /checkout/help\n"
            "Crawl-delay: 0.3\n",
            rules=(("disallow", "/checkout"), ("allow", "/checkout/help")),
            crawl_delay=0.3,
        ),
        pages=(
            _leaf(
                "/",
                "Example Shop",
                L(U("shop.example.co.uk", "/products/widget"), "Widget", href="/products/widget"),
                L(U("shop.example.co.uk", "/private/sale"), "Private sale", href="/private/sale"),
                L(U("shop.example.co.uk", "/checkout"), "Checkout", href="/checkout"),
                L(U("shop.example.co.uk", "/checkout/help"), "Checkout help", href="checkout/help"),
                L(U("blog.example.co.uk"), "Our blog"),
                L(U("www.northwind.co.uk", "/wholesale"), "Wholesale partner", rel="sponsored"),
            ),
            _leaf(
                "/products/widget",
                "Widget",
                L(U("shop.example.co.uk"), "Shop home", href="/"),
                L(U("static.example.com", "/img/logo.png"), "Widget photo"),
            ),
            _leaf("/private/sale", "Sale", L(U("deals.example.biz"), "Deals", rel="sponsored")),
            _leaf("/checkout/help", "Help", L(U("www.example.com", "/about"), "About Example")),
            _leaf("/checkout", "Checkout", L(U(TRAP, "/checkout"), "x")),
        ),
    ),
    Host(
        "blog.example.co.uk",
        "example.co.uk",
        Robots(
            # a group for another crawler that must not apply; Crawl-delay in the * group
            "User-agent: otherbot\nDisallow: /\n\n"
            "User-agent: *\nDisallow: /drafts/\nCrawl-delay: 0.3\n",
            rules=(("disallow", "/drafts/"),),
            crawl_delay=0.3,
        ),
        pages=(
            _leaf(
                "/",
                "Example Blog",
                L(U("blog.example.co.uk", "/posts/1"), "First post", href="posts/1"),
                L(U("blog.example.co.uk", "/drafts/secret"), "Draft", href="/drafts/secret"),
                L(U("alice.github.io"), "Alice"),
            ),
            _leaf(
                "/posts/1",
                "First post",
                L(U("xn--bcher-kva.de", "/katalog?seite=2"), "Katalog"),
                L(U("bob.github.io"), "Bob"),
            ),
            _leaf("/drafts/secret", "Draft", L(U(TRAP, "/draft"), "x")),
        ),
    ),
    Host(
        "www.example.co.uk",
        "example.co.uk",
        ALLOW_ALL,
        pages=(_leaf("/About", "About Example UK", L(U("www.example.com"), "Example global")),),
    ),
)

EXAMPLE_ORG = (
    Host(
        "docs.example.org",
        "example.org",
        Robots(
            "User-agent: linkgraph\nDisallow: /internal/\n\nUser-agent: *\nDisallow: /\n",
            # robots.txt redirects twice (absolute, then relative Location): followed
            hops=(
                ("/robots.txt", 301, "http://docs.example.org:{port}/robots/v1.txt"),
                ("/robots/v1.txt", 302, "/robots/current.txt"),
            ),
            path="/robots/current.txt",
            rules=(("disallow", "/internal/"),),
        ),
        pages=(
            _leaf(
                "/",
                "Docs",
                L(U("docs.example.org", "/guide/"), "Guide", href="/guide/"),
                L(U("docs.example.org", "/internal/roadmap"), "Roadmap", href="internal/roadmap"),
                L(U("wiki.example.org", "/wiki/Main_Page"), "Wiki"),
                L(U("www.example.com"), "Example"),
            ),
            _leaf(
                "/guide/",
                "Guide",
                L(U("docs.example.org", "/guide/start"), "Getting started", href="start"),
                L(U("docs.example.org"), "Docs home", href="../"),
                L(U("docs.example.org", "/guide/?page=2"), "Page 2", href="?page=2"),
            ),
            _leaf("/guide/start", "Getting started", L(U("bob.github.io"), "Bob")),
            _leaf("/guide/?page=2", "Guide p2", L(U("alice.github.io", "/posts/plain"), "plain")),
            _leaf("/internal/roadmap", "Roadmap", L(U(TRAP, "/roadmap"), "x")),
        ),
    ),
    Host(
        "wiki.example.org",
        "example.org",
        ALLOW_ALL,
        pages=(
            Page(
                "/wiki/Main_Page",
                "Main Page",
                # relative links resolve against the FIRST <base>; the second is ignored
                head='<base href="/wiki/articles/"><base href="http://trap.example.com:{port}/base/">',
                links=(
                    L(U("wiki.example.org", "/wiki/articles/Linking"), "Linking", href="Linking"),
                    L(U("wiki.example.org", "/wiki/Help"), "Help", href="../Help"),
                    L(
                        U("cdn.example.org", "/download/dump.json"),
                        "Dump",
                        href="//cdn.example.org:{port}/download/dump.json",
                    ),
                    # a fragment does not make a different URL: one pair, two anchors
                    L(
                        U("shop.example.co.uk", "/products/widget"),
                        "Widget reviews",
                        href="http://shop.example.co.uk:{port}/products/widget#reviews",
                    ),
                    L(U("shop.example.co.uk", "/products/widget"), "Widget"),
                ),
            ),
            Page(
                "/wiki/articles/Linking",
                "Linking",
                head='<base href="http://cdn.example.org:{port}/mirror/">',  # on another host
                links=(L(U("cdn.example.org", "/mirror/page"), "Mirror page", href="page"),),
            ),
            _leaf("/wiki/Help", "Help", L(U("deals.example.biz"), "Deals", rel="nofollow")),
        ),
    ),
    Host(
        "cdn.example.org",
        "example.org",
        NO_ROBOTS,
        pages=(
            Page("/download/dump.json", content_type="application/json", body="[]\n"),
            _leaf("/mirror/page", "Mirror", L(U("xn--bcher-kva.de"), "Buchladen")),
        ),
    ),
    Host(
        "secret.example.org",
        "example.org",
        ALLOW_ALL,
        note="only linked from nofollow pages: never requested",
        pages=(_leaf("/", "Secret"), _leaf("/xrobots", "Secret too")),
    ),
)

ELSEWHERE = (
    Host("gone.example.net", "example.net", NO_ROBOTS, note="no pages: every URL is 404"),
    Host(
        "mirror.example.net",
        "example.net",
        # robots.txt answers 500: the whole host is disallowed
        Robots("Internal Server Error\n", status=500, rules=(("disallow", "/"),)),
        pages=(_leaf("/", "Mirror", L(U(TRAP, "/mirror"), "x")),),
    ),
    Host(
        "go.example.info",
        "example.info",
        ALLOW_ALL,
        note="redirects: every hop is a page whose one link is its Location",
        pages=(
            # a 301 chain: absolute Location, then a relative one
            Page(
                "/old",
                status=301,
                location=U("go.example.info", "/older"),
                target=U("go.example.info", "/older"),
            ),
            Page("/older", status=301, location="/new", target=U("go.example.info", "/new")),
            _leaf(
                "/new",
                "Redirect hub",
                L(U("go.example.info", "/loop-a"), "Loop", href="/loop-a"),
                L(U("go.example.info", "/out"), "Out", href="/out"),
                L(U("go.example.info", "/temp"), "Temp", href="/temp"),
            ),
            # a loop A -> B -> A: each URL is crawled once
            Page("/loop-a", status=302, location="/loop-b", target=U("go.example.info", "/loop-b")),
            Page("/loop-b", status=302, location="loop-a", target=U("go.example.info", "/loop-a")),
            # cross-domain: a backlink with an empty anchor; the uppercase host is lowercased
            Page(
                "/out",
                status=302,
                location="http://WWW.NORTHWIND.CO.UK:{port}/landing",
                target=U("www.northwind.co.uk", "/landing"),
            ),
            Page(
                "/temp",
                status=307,
                location=U("alice.github.io", "/posts/redirected"),
                target=U("alice.github.io", "/posts/redirected"),
            ),
        ),
    ),
    Host(
        "www.northwind.co.uk",
        "northwind.co.uk",
        ALLOW_ALL,
        pages=(
            _leaf(
                "/",
                "Northwind Traders",
                L(U("www.northwind.co.uk", "/wholesale"), "Wholesale", href="/wholesale"),
                L(U("store.northwind.co.uk"), "Store"),
            ),
            _leaf("/wholesale", "Wholesale", L(U("www.example.com"), "Example")),
            _leaf("/landing", "Landing", L(U("www.example.com"), "Example")),
        ),
    ),
    Host(
        "store.northwind.co.uk",
        "northwind.co.uk",
        ALLOW_ALL,
        pages=(_leaf("/", "Store", L(U("shop.example.co.uk"), "Example shop", rel="sponsored")),),
    ),
    Host(
        "deals.example.biz",
        "example.biz",
        ALLOW_ALL,
        pages=(
            _leaf(
                "/",
                "Deals",
                L(U("www.example.com"), "Best deals", rel="sponsored"),
                L(U("shop.example.co.uk"), "Shop deals", rel="sponsored"),
            ),
        ),
    ),
    # IDN: bücher.de; its registered domain is the punycode form
    Host(
        "xn--bcher-kva.de",
        "xn--bcher-kva.de",
        ALLOW_ALL,
        pages=(
            _leaf(
                "/",
                "Bücher",
                L(U("xn--bcher-kva.de", "/katalog?seite=2"), "Katalog", href="/katalog?seite=2"),
                L(U("www.xn--bcher-kva.de"), "www", href="http://www.bücher.de:{port}/"),
                L(U("alice.github.io"), "Alice"),
            ),
            _leaf("/katalog?seite=2", "Katalog"),
        ),
    ),
    Host(
        "www.xn--bcher-kva.de",
        "xn--bcher-kva.de",
        ALLOW_ALL,
        pages=(_leaf("/", "Bücher www", L(U("news.example.com"), "Nachrichten")),),
    ),
)


def _never(path: str) -> Page:
    """A page only the links that are recorded, not followed, lead to: never requested."""
    return _leaf(path, "Recorded, not followed")


LINK_KINDS = (
    Host(
        KINDS,
        "example.net",
        ALLOW_ALL,
        note="every link type: SVG, image, frame, form, canonical and hreflang links",
        pages=(
            Page(
                "/",
                "Link kinds",
                links=(
                    # SVG 1.1's xlink:href and SVG 2's href: links with their real target
                    L(
                        U(KINDS, "/svg-xlink"),
                        "SVG xlink",
                        markup='<svg width="40" height="20"><a xlink:href="/svg-xlink">'
                        '<text y="10">SVG xlink</text></a></svg>',
                    ),
                    L(
                        U(KINDS, "/svg-href"),
                        "SVG 2 href",
                        markup='<svg width="40" height="20"><a href="http://kinds.example.net:'
                        '{port}/svg-href" xlink:href="/ignored"><text y="10">SVG 2 href</text>'
                        "</a></svg>",
                    ),
                    # xlink:href on an HTML <a> makes no link
                    L(None, markup=f'<a xlink:href="{U(TRAP, "/xlink")}">HTML a, xlink:href</a>'),
                    L(
                        U("bob.github.io", "/projects"),
                        "Projects of Bob",
                        type="image",
                        markup='<a href="http://bob.github.io:{port}/projects">'
                        '<img src="/bob.png" alt="Projects of Bob"></a>',
                    ),
                    L(
                        U(KINDS, "/embedded"),
                        tag="iframe",
                        type="frame",
                        markup='<iframe src="/embedded" title="embedded"></iframe>',
                    ),
                    L(
                        U("shop.example.co.uk", "/products/widget"),
                        tag="form",
                        type="form",
                        markup='<form action="http://shop.example.co.uk:{port}/products/widget"'
                        ' method="post"><input name="q"></form>',
                    ),
                    # a form without an action submits to the page itself: no link
                    L(None, markup='<form method="get"><input name="q"></form>'),
                    # in <head>: a canonical to the page itself, and hreflang alternates
                    L(
                        U(KINDS),
                        rel="canonical",
                        tag="link",
                        type="canonical",
                        markup='<link rel="canonical" href="/">',
                    ),
                    L(
                        U(KINDS, "/de/"),
                        rel="alternate",
                        tag="link",
                        type="hreflang",
                        markup='<link rel="alternate" hreflang="de" href="/de/">',
                    ),
                    L(
                        U("www.xn--bcher-kva.de"),
                        rel="alternate",
                        tag="link",
                        type="hreflang",
                        markup='<link rel="alternate" hreflang="de-DE" '
                        'href="http://www.bücher.de:{port}/">',
                    ),
                    L(U(KINDS, "/frames"), "Frames", href="/frames"),
                    L(U(KINDS, "/with-header"), "Link header", href="/with-header"),
                ),
            ),
            # canonical and hreflang in the Link header, relative to the page's URL
            Page(
                "/with-header",
                "Link header",
                links=(
                    L(
                        U(KINDS, "/canonical-target"),
                        rel="canonical",
                        tag="header",
                        type="canonical",
                        href="/canonical-target",
                    ),
                    L(
                        U("www.xn--bcher-kva.de", "/kinds"),
                        rel="alternate",
                        tag="header",
                        type="hreflang",
                        markup='<http://www.xn--bcher-kva.de:{port}/kinds>; rel="alternate"; '
                        'hreflang="de"',
                    ),
                ),
            ),
            _never("/canonical-target"),
            Page(
                "/frames",
                "Frames",
                frameset=True,
                links=(
                    L(
                        U(KINDS, "/frame-a"),
                        tag="frame",
                        type="frame",
                        markup='<frame src="frame-a">',
                    ),
                    L(
                        U("carol.github.io"),
                        tag="frame",
                        type="frame",
                        markup='<frame src="http://carol.github.io:{port}/">',
                    ),
                ),
            ),
            _leaf("/svg-xlink", "SVG xlink target"),
            _leaf("/svg-href", "SVG href target"),
            _never("/embedded"),
            _never("/de/"),
            _never("/frame-a"),
        ),
    ),
)

# Pages in other encodings, each with a link whose path (always UTF-8) and query (in the page's
# encoding) hold non-ASCII characters; the expected URLs are spelled out byte by byte.
INTERNATIONAL = (
    Host(
        INTL,
        "example.net",
        ALLOW_ALL,
        note="encodings: late <meta>, contradicting declarations, a BOM, legacy encodings",
        pages=(
            _leaf(
                "/",
                "International",
                *(
                    L(U(INTL, path), path, href=path)
                    for path in ("/late", "/transport", "/bom", "/sjis", "/gbk", "/cp1252")
                ),
            ),
            # undeclared, not UTF-8: a guess, until the <meta> after 5,000 bytes says ISO-8859-1
            # (which means windows-1252)
            Page(
                "/late",
                "Late meta",
                encoding="cp1252",
                charset_header=None,
                meta_charset=None,
                late_meta="iso-8859-1",
                links=(L(U(INTL, "/vetg%C3%A9p?q=vetg%E9p"), "vetgép", href="/vetgép?q=vetgép"),),
            ),
            # Content-Type says windows-1250, the <meta> windows-1252: the transport wins
            Page(
                "/transport",
                "Transport charset",
                encoding="cp1250",
                charset_header="windows-1250",
                meta_charset="windows-1252",
                links=(
                    L(
                        U(INTL, "/niepe%C5%82nosprawni?q=%B3%F3d%9F"),
                        "niepełnosprawni",
                        href="/niepełnosprawni?q=łódź",
                    ),
                ),
            ),
            # a UTF-8 byte-order mark beats both the Content-Type and the <meta>
            Page(
                "/bom",
                "Byte-order mark",
                bom=b"\xef\xbb\xbf",
                charset_header="windows-1252",
                meta_charset="shift_jis",
                links=(L(U(INTL, "/caf%C3%A9?q=caf%C3%A9"), "café", href="/café?q=café"),),
            ),
            Page(
                "/sjis",
                "Shift_JIS",
                encoding="shift_jis",
                charset_header=None,
                meta_charset="shift_jis",
                links=(
                    L(U(INTL, "/%E6%9D%B1%E4%BA%AC?q=%93%8C%8B%9E"), "東京", href="/東京?q=東京"),
                ),
            ),
            Page(
                "/gbk",
                "GBK",
                encoding="gbk",
                charset_header="gbk",
                meta_charset=None,
                links=(
                    L(U(INTL, "/%E4%B8%AD%E6%96%87?q=%D6%D0%CE%C4"), "中文", href="/中文?q=中文"),
                ),
            ),
            # windows-1252 has "€" (0x80) but no "ж" (written &#1078;): its reference, encoded
            Page(
                "/cp1252",
                "windows-1252",
                encoding="cp1252",
                charset_header="windows-1252",
                meta_charset=None,
                links=(
                    L(U(INTL, "/na%C3%AFve?q=%80%26%231078%3B"), "naïve", href="/naïve?q=€&#1078;"),
                ),
            ),
            _leaf("/vetg%C3%A9p?q=vetg%E9p", "vetgép"),
            _leaf("/niepe%C5%82nosprawni?q=%B3%F3d%9F", "niepełnosprawni"),
            _leaf("/caf%C3%A9?q=caf%C3%A9", "café"),
            _leaf("/%E6%9D%B1%E4%BA%AC?q=%93%8C%8B%9E", "東京"),
            _leaf("/%E4%B8%AD%E6%96%87?q=%D6%D0%CE%C4", "中文"),
            _leaf("/na%C3%AFve?q=%80%26%231078%3B", "naïve"),
        ),
    ),
)


def _sitemap(path: str, tag: str, *urls: str, gzipped: bool = False) -> Page:
    """A sitemap listing `urls`: an XML urlset (tag url), an index (index) or text (line)."""
    if tag == "line":
        body, kind = "".join(f"{u}\n" for u in urls), "text/plain"
    else:
        root, entry = ("sitemapindex", "sitemap") if tag == "index" else ("urlset", "url")
        entries = "".join(f"\n  <{entry}><loc>{u}</loc></{entry}>" for u in urls)
        body = f'<?xml version="1.0"?>\n<{root} {SITEMAP_NS}>{entries}\n</{root}>\n'
        kind = "application/gzip" if gzipped else "application/xml"
    return Page(path, body=body, content_type=kind, sitemap=urls, sitemap_tag=tag, gzipped=gzipped)


# Sitemaps: robots.txt names an index and a text sitemap; the index lists a gzipped urlset,
# another urlset and itself (a loop). Some URLs only a sitemap lists: nothing links to them.
SITEMAPS = (
    Host(
        MAPS,
        "example.net",
        Robots(
            "User-agent: *\nDisallow: /private/\n"
            "Sitemap: http://maps.example.net:{port}/sitemap_index.xml\nSitemap: /sitemap.txt\n",
            rules=(("disallow", "/private/"),),
            sitemaps=(U(MAPS, "/sitemap_index.xml"), U(MAPS, "/sitemap.txt")),
        ),
        note="sitemaps: an index, gzip, text; URLs only sitemaps list",
        pages=(
            _leaf("/", "Site maps", L(U(MAPS, "/linked"), "Linked", href="/linked")),
            _leaf("/linked", "Linked and listed"),
            _sitemap(
                "/sitemap_index.xml",
                "index",
                U(MAPS, "/sitemap-pages.xml.gz"),
                U(MAPS, "/sitemap_index.xml"),
                U(MAPS, "/sitemap-news.xml"),
            ),
            _sitemap(
                "/sitemap-pages.xml.gz",
                "url",
                U(MAPS, "/linked"),
                U(MAPS, "/published-only"),
                U(MAPS, "/private/draft"),
                gzipped=True,
            ),
            # a URL on another host: listed, queued, but no backlink
            _sitemap("/sitemap-news.xml", "url", U(MAPS, "/news/1"), U("alice.github.io")),
            _sitemap("/sitemap.txt", "line", U(MAPS, "/text-only")),
            _leaf("/published-only", "Only a sitemap lists this"),
            _leaf("/news/1", "News, listed only"),
            _leaf("/text-only", "Listed by the text sitemap only"),
            _leaf("/private/draft", "Disallowed"),
        ),
    ),
)

# Private suffixes: each github.io / blogspot.com user is a registered domain of its own.
PERSONAL = (
    Host(
        "alice.github.io",
        "alice.github.io",
        NO_ROBOTS,
        note="reached from many domains and by many paths",
        pages=(
            _leaf(
                "/",
                "Alice",
                L(U("alice.github.io", "/about"), "About Alice", href="about"),
                L(U("bob.github.io"), "Bob's site"),
                L(U("www.example.com"), "Example"),
            ),
            _leaf("/about", "About Alice", L(U("cs.example.edu"), "My university")),
            *(
                _leaf(f"/posts/{p}", p, L(U("alice.github.io"), "Home", href="/"))
                for p in ("nofollow", "ugc", "sponsored", "mixed", "plain", "external")
            ),
            _leaf("/posts/redirected", "Redirected here"),
        ),
    ),
    Host(
        "bob.github.io",
        "bob.github.io",
        ALLOW_ALL,
        pages=(
            _leaf(
                "/",
                "Bob",
                L(U("alice.github.io"), "Alice"),
                # mixed-case Unicode host
                L(
                    U("xn--bcher-kva.de", "/katalog?seite=2"),
                    "Bücher catalogue",
                    href="http://Bücher.DE:{port}/katalog?seite=2",
                ),
            ),
            _leaf("/projects", "Projects", L(U("gone.example.net", "/project"), "Old project")),
            _leaf("/map", "Map"),
            _leaf("/googlebot", "Googlebot"),
        ),
    ),
    Host(
        "carol.github.io",
        "carol.github.io",
        ALLOW_ALL,
        pages=(
            _leaf(
                "/",
                "Carol",
                L(U("alice.github.io"), "Alice"),
                L(U("bob.github.io"), "Bob"),
                L(U("dave.blogspot.com"), "Dave"),
            ),
            _leaf("/via-none", "Only via a robots=none page"),
        ),
    ),
    Host(
        "dave.blogspot.com",
        "dave.blogspot.com",
        ALLOW_ALL,
        pages=(
            _leaf(
                "/",
                "Dave",
                L(U("shop.example.com.au"), "Aussie shop", rel="sponsored"),
                L(U("carol.github.io"), "Carol"),
            ),
        ),
    ),
)

# Other multi-label public suffixes: .ac.uk, .gov.uk, .com.au, .co.jp, plus .edu.
INSTITUTIONS = (
    Host(
        "cs.example.edu",
        "example.edu",
        ALLOW_ALL,
        pages=(
            _leaf(
                "/",
                "Computer Science",
                L(U("cs.example.edu", "/people"), "People", href="/people"),
                L(U("lib.example.edu"), "Library"),
                L(U("research.cs.example.ac.uk"), "UK partner"),
                L(U("alice.github.io"), "Alice (alumna)"),
                L(U("carol.github.io"), "Carol"),
            ),
            _leaf(
                "/people",
                "People",
                L(U("bob.github.io"), "Bob"),
                L(U("carol.github.io"), "Carol", rel="nofollow"),
                L(U("dave.blogspot.com"), "Dave's blog"),
            ),
        ),
    ),
    Host(
        "lib.example.edu",
        "example.edu",
        ALLOW_ALL,
        pages=(
            _leaf(
                "/",
                "Library",
                L(U("docs.example.org", "/guide/"), "Documentation guide"),
                L(U("www.example.gov.uk"), "Gov"),
            ),
        ),
    ),
    Host(
        "research.cs.example.ac.uk",
        "example.ac.uk",
        ALLOW_ALL,
        pages=(
            _leaf(
                "/",
                "Research",
                L(U("cs.example.edu"), "Example University CS"),
                L(U("www.example.gov.uk", "/open-data"), "Open data"),
            ),
        ),
    ),
    Host(
        "www.example.gov.uk",
        "example.gov.uk",
        ALLOW_ALL,
        pages=(
            _leaf(
                "/", "Gov", L(U("www.example.gov.uk", "/open-data"), "Open data", href="open-data")
            ),
            _leaf("/open-data", "Open data", L(U("static.example.com", "/api/data.json"), "Data")),
        ),
    ),
    Host(
        "shop.example.com.au",
        "example.com.au",
        ALLOW_ALL,
        pages=(_leaf("/", "Aussie shop", L(U("shop.example.co.uk"), "UK shop")),),
    ),
    Host(
        "www.example.co.jp",
        "example.co.jp",
        ALLOW_ALL,
        pages=(_leaf("/", "Japan", L(U("m.example.com"), "Mobile")),),
    ),
)

HOSTS = (
    *EXAMPLE_COM,
    *EXAMPLE_CO_UK,
    *EXAMPLE_ORG,
    *ELSEWHERE,
    *LINK_KINDS,
    *INTERNATIONAL,
    *SITEMAPS,
    *PERSONAL,
    *INSTITUTIONS,
)
SEEDS = (U("www.example.com"),)


class TestWeb(DeclaredWeb):
    """The hand-made test web: a `Web` for `LocalWebServer` plus its ground truth."""

    __test__ = False  # not a pytest test class, despite the name


def build_test_web() -> TestWeb:
    return TestWeb(HOSTS, SEEDS)
