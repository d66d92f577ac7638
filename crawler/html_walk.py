"""The parse and the walk of a page: what its elements say, before any URL is resolved.

This runs for every fetched page, so the document is parsed exactly once (lexbor, the HTML
Standard's tree builder: nothing in comments, <script> or <template> becomes an element) and
walked by one CSS query, in document order. Besides <a> and <area> (SVG's <a> included, by its
`href` or `xlink:href`), the walk collects the other links link explorers show: canonical and
hreflang <link>s, <frame> and <iframe> sources, and <form> actions; and with them the page's
<base>, <title>, robots <meta>s and the first <meta> declaring an encoding, for
crawler/extraction.py to decide whether to parse again (crawler/encoding.py).

A document nested deeper than a bound is parsed only up to there (see crawler/nesting.py for why
depth costs time).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from selectolax.lexbor import LexborHTMLParser, LexborNode

from crawler.encoding import UTF8, Decided, declared_by_meta, decode
from crawler.nesting import SAFE_TAGS, too_deep_at

__all__ = ["NO_REL", "SELECTOR", "WalkedPage", "parse_document", "parse_rel", "walk"]

# Document order matters (links are kept in order), and one query walks the tree once. lexbor's
# `a[href]` also matches an `xlink:href` attribute (the SVG 1.1 spelling), which the walk sorts out.
SELECTOR = (
    "a[href], area[href], base[href], title, link[rel][href], meta, "
    "frame[src], iframe[src], form[action]"
)
_ASCII_SPACE = re.compile(r"[\t\n\f\r ]+")
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
NO_REL: frozenset[str] = frozenset()


@lru_cache(maxsize=4096)
def parse_rel(rel: str) -> frozenset[str]:
    # rel values repeat endlessly ("nofollow", "noopener noreferrer"): parse each one once.
    tokens = _ASCII_SPACE.split(rel.translate(_ASCII_LOWER))
    return frozenset(t for t in tokens if t) or NO_REL


def parse_document(
    body: bytes, decided: Decided, max_nesting: int
) -> tuple[LexborHTMLParser, bool]:
    """The parsed document, and whether it was cut where it nests deeper than `max_nesting`."""
    document = body  # UTF-8 without a BOM: lexbor decodes it, U+FFFD for bad bytes
    if not decided.fast:
        text = decode(body, decided)
        if text.count("<") < SAFE_TAGS:  # too few tags to nest deep: no scan, no re-encoding
            return LexborHTMLParser(text), False
        document = text.encode(UTF8, "replace")  # the nesting scan reads UTF-8 bytes
    cut = False
    if max_nesting:
        end = too_deep_at(document, max_nesting)  # at once -1 for a page of few tags
        if end >= 0:
            document, cut = document[:end], True
    return LexborHTMLParser(document), cut


def _in_svg(node: LexborNode) -> bool:
    """Whether an <a> is SVG's (inside <svg>, not back in HTML through <foreignObject>)."""
    parent = node.parent
    while parent is not None:
        tag = (parent.tag or "").lower()
        if tag == "svg":
            return True
        if tag in ("foreignobject", "desc", "title", "html"):
            return False
        parent = parent.parent
    return False


@dataclass(slots=True)
class WalkedPage:
    """What the query walk collects, before any URL is resolved."""

    # (node, its link attribute's value, its rel or None, tag): each node's attributes are
    # read once, as reading them builds a dict.
    elements: list[tuple[LexborNode, str, str | None, str]]
    base_href: str | None = None
    canonical_href: str | None = None
    title: str | None = None
    directives: list[str] = field(default_factory=list)
    declared: str | None = None  # the codec the first declaring <meta> names


def walk(nodes: list[LexborNode], agent: str, tentative: bool) -> WalkedPage:
    found = WalkedPage([])
    elements = found.elements
    directives = found.directives
    # The parser heeds the first <meta> that declares an encoding, if a guess decided it.
    declaring = tentative
    for node in nodes:
        tag = node.tag
        if tag == "a":
            attrs = node.attributes
            if "href" in attrs:
                elements.append((node, attrs["href"] or "", attrs.get("rel"), "a"))
            elif _in_svg(node):  # SVG 1.1's xlink:href, which SVG 2's href replaces
                elements.append((node, attrs.get("xlink:href") or "", attrs.get("rel"), "a"))
        elif tag == "area":
            attrs = node.attributes
            elements.append((node, attrs.get("href") or "", attrs.get("rel"), "area"))
        elif tag == "base":
            if found.base_href is None:
                found.base_href = node.attributes.get("href") or ""
        elif tag == "title":
            if found.title is None:
                found.title = node.text()
        elif tag == "link":
            attrs = node.attributes
            rel_value = attrs.get("rel") or ""
            rel = parse_rel(rel_value)
            if "canonical" in rel:
                if found.canonical_href is None:
                    found.canonical_href = attrs.get("href") or ""
                    elements.append((node, found.canonical_href, rel_value, "canonical"))
            elif "alternate" in rel and "hreflang" in attrs:
                elements.append((node, attrs.get("href") or "", rel_value, "hreflang"))
        elif tag == "meta":
            attrs = node.attributes
            name = (attrs.get("name") or "").strip().lower()
            if name == "robots" or name == agent:
                directives.append(attrs.get("content") or "")
            elif declaring and ("charset" in attrs or "http-equiv" in attrs):
                found.declared = declared_by_meta(
                    attrs.get("charset"), attrs.get("http-equiv"), attrs.get("content")
                )
                declaring = found.declared is None
        elif tag in ("frame", "iframe"):
            attrs = node.attributes
            elements.append((node, attrs.get("src") or "", attrs.get("rel"), tag))
        elif tag == "form":
            attrs = node.attributes
            action = (attrs.get("action") or "").strip()
            if action:  # no action (or an empty one) submits to the page itself: no link
                elements.append((node, action, attrs.get("rel"), "form"))
    return found
