"""A declarative model of a hand-made web: hosts, robots.txt, pages and their links.

Every page declares its outgoing links twice over: the markup as written (`href`, `markup`)
and what a browser makes of it (`url`, `anchor`, `rel`). The ground truth uses only the
declared expectations, never the crawler's parsing or URL code, so the two stay independent.
Declared URLs are templates with a `{port}` placeholder: `http://host:{port}/path`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from html import escape

from crawler.localweb.web import TemplateResource, blob, html, redirect, text

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


@dataclass(frozen=True)
class Link:
    """One link occurrence: `url` None means the element is not a crawlable link at all."""

    url: str | None
    anchor: str = ""  # expected: textContent with whitespace collapsed, else the img alt
    rel: str = ""  # the rel attribute as written
    href: str | None = None  # the href as written (raw attribute text); default `url`
    markup: str | None = None  # the whole element as written, for odd markup
    tag: str = "a"

    def html(self) -> str:
        if self.markup is not None:
            return self.markup
        rel = f' rel="{self.rel}"' if self.rel else ""
        href = self.href if self.href is not None else self.url
        return f'<a href="{href}"{rel}>{escape(self.anchor, quote=False)}</a>'

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
        if self.body is not None:
            if isinstance(self.body, bytes):
                return blob(self.body, self.content_type, self.status)
            return text(self.body, self.status, self.content_type)
        head = f"<meta charset=utf-8><title>{escape(self.title)}</title>{self.head}"
        if self.meta_robots is not None:
            head += f'<meta name="{self.meta_robots[0]}" content="{self.meta_robots[1]}">'
        items = "".join(f"<li>{link.html()}</li>\n" for link in self.links)
        doc = (
            f"<!DOCTYPE html>\n<html lang=en><head>{head}</head>\n<body>"
            f"<h1>{escape(self.title)}</h1>\n<ul>\n{items}</ul>\n{self.noise}\n</body></html>\n"
        )
        extra = [("X-Robots-Tag", self.x_robots)] if self.x_robots else []
        return html(doc, self.status, extra)


@dataclass(frozen=True)
class Robots:
    """What a host serves as robots.txt, and what it means for product token `linkgraph`."""

    body: str | None = None  # None: no robots.txt at all (404, everything allowed)
    status: int = 200
    path: str = "/robots.txt"  # where `body` is served, at the end of any redirect hops
    hops: tuple[tuple[str, int, str], ...] = ()  # (path, status, Location as sent)
    rules: tuple[tuple[str, str], ...] = ()  # ("allow" | "disallow", path prefix)
    crawl_delay: float | None = None

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
