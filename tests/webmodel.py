"""A declarative model of a hand-made web: hosts, robots.txt, pages and their links.

Every page declares its outgoing links twice over: the markup as written (`href`, `markup`)
and what a browser makes of it (`url`, `anchor`, `rel`). The ground truth uses only the
declared expectations, never the crawler's parsing or URL code, so the two stay independent.
Declared URLs are templates with a `{port}` placeholder: `http://host:{port}/path`.

A link's `tag` says where it is written: in the body (a, area, form, iframe; frame in a
`<frameset>` page), in the head (`link`: canonical and hreflang), or in the `Link` response
header (`header`). A page may be written in another encoding than UTF-8, declared (or not) by
the Content-Type charset, a `<meta charset>`, a late one and a byte-order mark.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterable
from dataclasses import dataclass
from html import escape

from crawler.demo.web import PortTemplate, TemplateResource, blob, html, redirect, text

QUALIFYING = frozenset({"nofollow", "ugc", "sponsored"})
PAGE_NOFOLLOW = frozenset({"nofollow", "none"})
# meta names that address this crawler: the generic one and its product token
OUR_META_NAMES = frozenset({"robots", "linkgraph"})


def url(host: str, path: str = "/") -> str:
    """The canonical URL template of a page on the test server."""
    return f"http://{host}:{{port}}{path}"


def split_url(template: str) -> tuple[str, str, str]:
    """(scheme, host, path) of a canonical URL template; port (if any) is dropped."""
    scheme, _, rest = template.partition("://")
    authority, slash, path = rest.partition("/")
    return scheme, authority.split(":")[0], slash + path


def is_local(template: str) -> bool:
    """True for URLs served by the test server (plain http on its port)."""
    scheme, _, rest = template.partition("://")
    return scheme == "http" and rest.split("/")[0].endswith(":{port}")


class GzipTemplate(PortTemplate):
    """A body sent gzipped: the port goes in before it is compressed."""

    __slots__ = ("_gzipped",)

    def __init__(self, text: str | bytes) -> None:
        super().__init__(text)
        self._gzipped: dict[int, bytes] = {}

    def render(self, port: int) -> bytes:
        if port not in self._gzipped:
            self._gzipped[port] = gzip.compress(super().render(port), mtime=0)
        return self._gzipped[port]


@dataclass(frozen=True)
class Link:
    """One link occurrence: `url` None means the element is not a crawlable link at all."""

    url: str | None
    anchor: str = ""  # expected: textContent with whitespace collapsed, else the img alt
    rel: str = ""  # the rel attribute as written
    href: str | None = None  # the href as written (raw attribute text); default `url`
    markup: str | None = None  # the whole element as written, for odd markup
    tag: str = "a"  # a, area, form, frame, iframe; link (in <head>); header (the Link header)
    type: str = "text"  # what the crawler records: crawler/items.py's LINK_TYPES

    def html(self) -> str:
        if self.markup is not None:
            return self.markup
        rel = f' rel="{self.rel}"' if self.rel else ""
        href = self.href if self.href is not None else self.url
        return f'<a href="{href}"{rel}>{escape(self.anchor, quote=False)}</a>'

    def header(self) -> str:
        """The link as a `Link` header's link-value (`markup`, when given, is that)."""
        if self.markup is not None:
            return self.markup
        href = self.href if self.href is not None else self.url
        return f'<{href}>; rel="{self.rel}"'

    @property
    def rels(self) -> frozenset[str]:
        return frozenset(self.rel.lower().split())

    @property
    def qualified(self) -> bool:
        return not QUALIFYING.isdisjoint(self.rels)


@dataclass(frozen=True)
class Page:
    path: str  # path and query, as requested
    title: str = ""
    links: tuple[Link, ...] = ()
    status: int = 200
    location: str | None = None  # a redirect's Location header as sent
    target: str | None = None  # ... and the absolute URL it means
    content_type: str = "text/html"
    body: str | bytes | None = None  # served verbatim instead of generated HTML
    meta_robots: tuple[str, str] | None = None  # (name, content) of a <meta> tag
    x_robots: str = ""  # X-Robots-Tag header value
    head: str = ""  # extra <head> markup, e.g. <base href>
    noise: str = ""  # markup that looks like links but holds none
    frameset: bool = False  # the links are <frame>s of a <frameset> instead of a <body>
    encoding: str = "utf-8"  # the Python codec the document is written in
    charset_header: str | None = "utf-8"  # Content-Type's charset; None: no charset parameter
    meta_charset: str | None = "utf-8"  # the <meta charset> first in <head>; None: none
    late_meta: str | None = None  # a <meta charset> after 5,000 bytes of the body
    bom: bytes = b""  # a byte-order mark before the document
    # A sitemap (`body` holds it): the URL templates it lists, and the tag their links get
    # (url: an XML urlset, index: a sitemap index, line: a text sitemap).
    sitemap: tuple[str, ...] | None = None
    sitemap_tag: str = "url"
    gzipped: bool = False  # `body` is sent gzipped (rendered with the port first)

    @property
    def page_nofollow(self) -> bool:
        """Declared page-level nofollow: meta robots for us, or the header, says nofollow/none."""
        tokens = set(t.strip().lower() for t in self.x_robots.split(","))
        if self.meta_robots is not None and self.meta_robots[0].lower() in OUR_META_NAMES:
            tokens |= {t.strip().lower() for t in self.meta_robots[1].split(",")}
        return not PAGE_NOFOLLOW.isdisjoint(tokens)

    @property
    def noindex(self) -> bool:
        """Declared noindex: meta robots for us, or the header, says noindex/none."""
        tokens = set(t.strip().lower() for t in self.x_robots.split(","))
        if self.meta_robots is not None and self.meta_robots[0].lower() in OUR_META_NAMES:
            tokens |= {t.strip().lower() for t in self.meta_robots[1].split(",")}
        return not {"noindex", "none"}.isdisjoint(tokens)

    def resource(self) -> TemplateResource:
        if self.location is not None:
            return redirect(self.location, self.status)
        if self.body is not None and self.gzipped:
            text_ = self.body if isinstance(self.body, str) else self.body.decode()
            headers = (("Content-Type", self.content_type),)
            return TemplateResource(self.status, headers, GzipTemplate(text_))
        if self.body is not None:
            if isinstance(self.body, bytes):
                return blob(self.body, self.content_type, self.status)
            return text(self.body, self.status, self.content_type)
        meta = f"<meta charset={self.meta_charset}>" if self.meta_charset else ""
        head = f"{meta}<title>{escape(self.title)}</title>{self.head}"
        head += "".join(link.html() for link in self.links if link.tag == "link")
        if self.meta_robots is not None:
            head += f'<meta name="{self.meta_robots[0]}" content="{self.meta_robots[1]}">'
        in_body = [link for link in self.links if link.tag not in ("link", "header")]
        if self.frameset:
            frames = "".join(f"{link.html()}\n" for link in in_body)
            doc = f"<!DOCTYPE html>\n<html lang=en><head>{head}</head>\n<frameset>\n{frames}"
            doc += "</frameset></html>\n"
        else:
            items = "".join(f"<li>{link.html()}</li>\n" for link in in_body)
            late = ""
            if self.late_meta is not None:
                late = f"<!-- {'padding ' * 625}-->\n<meta charset={self.late_meta}>\n"
            doc = (
                f"<!DOCTYPE html>\n<html lang=en><head>{head}</head>\n<body>{late}"
                f"<h1>{escape(self.title)}</h1>\n<ul>\n{items}</ul>\n{self.noise}\n"
                "</body></html>\n"
            )
        extra = [("X-Robots-Tag", self.x_robots)] if self.x_robots else []
        header = ", ".join(link.header() for link in self.links if link.tag == "header")
        if header:
            extra.append(("Link", header))
        if (self.encoding, self.charset_header, self.bom) == ("utf-8", "utf-8", b""):
            return html(doc, self.status, extra)
        content_type = "text/html"
        if self.charset_header is not None:
            content_type += f"; charset={self.charset_header}"
        body = PortTemplate(self.bom + doc.encode(self.encoding))
        return TemplateResource(self.status, (("Content-Type", content_type), *extra), body)


@dataclass(frozen=True)
class Robots:
    """What a host serves as robots.txt, and what it means for product token `linkgraph`."""

    body: str | None = None  # None: no robots.txt at all (404, everything allowed)
    status: int = 200
    path: str = "/robots.txt"  # where `body` is served, at the end of any redirect hops
    hops: tuple[tuple[str, int, str], ...] = ()  # (path, status, Location as sent)
    rules: tuple[tuple[str, str], ...] = ()  # ("allow" | "disallow", path prefix)
    crawl_delay: float | None = None
    sitemaps: tuple[str, ...] = ()  # URL templates its `Sitemap:` lines mean

    def allows(self, path: str) -> bool:
        """Longest matching prefix wins; on a tie allow wins (RFC 9309 section 2.2.2)."""
        best, allowed = -1, True
        for kind, prefix in self.rules:
            if path.startswith(prefix) and len(prefix) >= best:
                if len(prefix) > best or kind == "allow":
                    allowed = kind == "allow"
                best = len(prefix)
        return allowed

    def resources(self) -> Iterable[tuple[str, TemplateResource]]:
        for path, status, location in self.hops:
            yield path, redirect(location, status)
        if self.body is not None:
            yield self.path, text(self.body, self.status)


@dataclass(frozen=True)
class Host:
    name: str  # ASCII (punycode) host name, as resolved and sent in Host headers
    domain: str  # its registered domain, as the views show it
    robots: Robots = Robots()
    pages: tuple[Page, ...] = ()
    note: str = ""  # what this host is for
