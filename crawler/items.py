"""The dataclasses (and the `Link` tuple) passed between stages: spider -> pipelines -> storage.

A `PageItem` is what the spider yields for every fetch attempt (a response, a redirect, an
error, a robots refusal). The extraction pipeline fills `PageItem.parsed` exactly once; every later
stage reads that, so a page is never parsed twice. The rows stored for a page are in
crawler/rows.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

# rel tokens that make a link not pass authority ("qualified" links in Google's terms).
QUALIFYING_RELS = frozenset({"nofollow", "ugc", "sponsored"})
# What a link is, as link explorers show it (`Link.type`, the `links.type` column):
# text: an <a> with text (or with neither text nor image); image: an <a> whose content is an
# image, its anchor the image's alt; area: an image-map <area>; redirect: a 3xx's Location;
# canonical: <link rel=canonical> or a `Link: <...>; rel=canonical` header; hreflang: an
# alternate language version (<link rel=alternate hreflang> or the header); frame: a <frame> or
# <iframe> src; form: a <form> action; sitemap: a URL a sitemap lists (crawler/sitemaps.py).
LINK_TYPES = (
    "text", "image", "area", "redirect", "canonical", "hreflang", "frame", "form", "sitemap",
)  # fmt: skip


class Link(NamedTuple):
    """One outbound link occurrence on a page, already resolved to an absolute URL.

    A NamedTuple rather than a frozen dataclass, like the rows (crawler/rows.py): a page has
    about a hundred links, and a tuple is built in a fifth of the time."""

    url: str  # absolute http(s) URL, WHATWG-serialised, fragment removed
    anchor: str = ""  # textContent, whitespace collapsed; image alt when there is no text
    rel: frozenset[str] = frozenset()  # lowercase rel tokens
    tag: str = "a"  # the element: a, area, link, frame, iframe, form; "header"; "redirect"
    type: str = "text"  # one of LINK_TYPES

    @property
    def nofollow(self) -> bool:
        return "nofollow" in self.rel

    @property
    def ugc(self) -> bool:
        return "ugc" in self.rel

    @property
    def sponsored(self) -> bool:
        return "sponsored" in self.rel

    @property
    def qualified(self) -> bool:
        """True when a rel token says the link passes no authority."""
        return not QUALIFYING_RELS.isdisjoint(self.rel)


@dataclass(slots=True)
class ParsedPage:
    """What one parse of an HTML document yields."""

    title: str = ""
    canonical: str = ""  # resolved <link rel=canonical>, "" when absent or not http(s)
    noindex: bool = False  # meta robots / X-Robots-Tag for our agent or all agents
    nofollow: bool = False  # page-level: record the links, follow none of them
    links: list[Link] = field(default_factory=list)
    incomplete: str = ""  # why not every link was extracted ("" = all were); kept in pages.error
    encoding: str = ""  # the codec the page was decoded with, "" when it was not parsed
    encoding_source: str = ""  # what decided it: see crawler/encoding.py's `Decided.source`


# The request meta key under which the capture middleware leaves a response's `Archived`
# record for the spider to put on its item.
ARCHIVED_META = "lg_archived"


@dataclass(slots=True, frozen=True)
class Archived:
    """Where a fetch's response (or revisit) record is in the WARC files (crawler/warc)."""

    path: str  # the WARC file, absolute
    offset: int  # of the record's gzip member
    record_id: str  # its WARC-Record-ID
    fetched_at: float  # unix time in its WARC-Date: the page's `fetched_at`


@dataclass(slots=True)
class PageItem:
    """One fetch attempt of one URL, as the spider saw it."""

    job: str
    url: str
    depth: int
    status: int = 0  # HTTP status; 0 when no response was received
    content_type: str = ""  # media type only, lowercase, no parameters
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)  # lowercase names, decoded values
    fetched_at: float = 0.0  # unix time the response (or error) arrived
    # Why nothing was fetched (dns, robots, refused...) when status is 0; with a response, what
    # of it was left out (a bound of crawler/settings.py hit), else "".
    error: str = ""
    location: str = ""  # absolute redirect target of a 3xx, "" otherwise
    parsed: ParsedPage | None = None  # set once by the extraction pipeline
    archived: Archived | None = None  # set when the fetch was archived (--warc)

    @property
    def is_html(self) -> bool:
        return self.content_type in ("text/html", "application/xhtml+xml")
