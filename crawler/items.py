"""The dataclasses passed between stages: spider -> pipelines -> storage.

A `PageItem` is what the spider yields for every fetch attempt (a response, a redirect, an
error, a robots refusal). The extraction pipeline fills `PageItem.parsed` exactly once; every later
stage reads that, so a page is never parsed twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# rel tokens that make a link not pass authority ("qualified" links in Google's terms).
QUALIFYING_RELS = frozenset({"nofollow", "ugc", "sponsored"})


@dataclass(slots=True, frozen=True)
class Link:
    """One outbound link occurrence on a page, already resolved to an absolute URL."""

    url: str  # absolute http(s) URL, WHATWG-serialised, fragment removed
    anchor: str = ""  # textContent, whitespace collapsed; image alt when there is no text
    rel: frozenset[str] = frozenset()  # lowercase rel tokens
    tag: str = "a"  # "a" | "area" | "redirect"

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
    error: str = ""  # "" for a response; else why nothing was fetched (dns, robots, refused...)
    location: str = ""  # absolute redirect target of a 3xx, "" otherwise
    parsed: ParsedPage | None = None  # set once by the extraction pipeline

    @property
    def is_html(self) -> bool:
        return self.content_type in ("text/html", "application/xhtml+xml")
