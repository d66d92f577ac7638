"""Link extraction: one HTML5 parse of a page yields its links, title, canonical and robots flags.

This runs for every fetched page, so the document is parsed exactly once (lexbor, the
HTML Standard's tree builder: nothing in comments, <script> or <template> becomes an element)
and walked by one CSS query; the per-link work is a dict lookup, a text read and an Ada
resolve.
"""

from __future__ import annotations

import re
from functools import lru_cache

from selectolax.lexbor import LexborHTMLParser, LexborNode, SelectolaxError
from w3lib.encoding import resolve_encoding

from crawler.items import Link, ParsedPage
from crawler.urls import resolve, resolver

__all__ = ["extract", "redirect_link"]

# Document order matters (links are kept in order), and one query walks the tree once.
_SELECTOR = "a[href], area[href], base[href], title, link[rel][href], meta[name][content]"
_BOMS = (b"\xef\xbb\xbf", b"\xfe\xff", b"\xff\xfe")
_ASCII_SPACE = re.compile(r"[\t\n\f\r ]+")
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
# "name: value" directives that are not an agent prefix in an X-Robots-Tag value.
_VALUED_DIRECTIVES = frozenset(
    {"max-snippet", "max-image-preview", "max-video-preview", "unavailable_after"}
)
_AGENT_PREFIX = re.compile(r"\s*([a-z][a-z0-9_.-]*)\s*:(.*)", re.ASCII | re.DOTALL)
_DIRECTIVE_SEPARATORS = re.compile(r"[\s;]+")
_NO_REL: frozenset[str] = frozenset()


@lru_cache(maxsize=4096)
def _rel_tokens(rel: str) -> frozenset[str]:
    # rel values repeat endlessly ("nofollow", "noopener noreferrer"): parse each one once.
    tokens = _ASCII_SPACE.split(rel.translate(_ASCII_LOWER))
    return frozenset(t for t in tokens if t) or _NO_REL


def _collapse(text: str) -> str:
    # Unicode whitespace on purpose: "Read&nbsp;more" is indexed as "Read more".
    return " ".join(text.split())


def _robots_flags(values: list[str], agent: str) -> tuple[bool, bool]:
    """(noindex, nofollow) from robots directive lists, e.g. "noindex, linkgraph: nofollow".

    An agent prefix scopes the directives after it, up to the end of that value.
    """
    noindex = nofollow = False
    for value in values:
        applies = True
        for part in value.lower().split(","):
            prefixed = _AGENT_PREFIX.match(part)
            if prefixed and prefixed.group(1) not in _VALUED_DIRECTIVES:
                applies = prefixed.group(1) == agent
                part = prefixed.group(2)
            if not applies:
                continue
            for token in _DIRECTIVE_SEPARATORS.split(part):
                if token == "none":
                    noindex = nofollow = True
                elif token == "noindex":
                    noindex = True
                elif token == "nofollow":
                    nofollow = True
    return noindex, nofollow


def _parser(body: bytes, encoding: str | None) -> LexborHTMLParser:
    # The HTML Standard's order: a byte-order mark, then the HTTP charset, then <meta> sniffing.
    if encoding and not body.startswith(_BOMS):
        codec = resolve_encoding(encoding)  # WHATWG-style aliases (latin1 -> cp1252...)
        if codec == "utf-8":
            return LexborHTMLParser(body)  # lexbor decodes UTF-8 itself, U+FFFD for bad bytes
        if codec:
            try:
                return LexborHTMLParser(body.decode(codec, "replace"))
            except LookupError:
                pass  # a bytes-to-bytes codec label such as "base64"
    return LexborHTMLParser(body, encoding=True)


def extract(
    body: bytes,
    url: str,
    *,
    encoding: str | None = None,
    x_robots_tag: str | list[str] | None = None,
    agent: str = "linkgraph",
) -> ParsedPage:
    """Parse an HTML page fetched from `url` (its final URL, after redirects)."""
    agent = agent.lower()
    page = ParsedPage()
    if x_robots_tag:
        headers = [x_robots_tag] if isinstance(x_robots_tag, str) else x_robots_tag
        page.noindex, page.nofollow = _robots_flags(headers, agent)
    try:
        nodes = _parser(body, encoding).css(_SELECTOR)
    except (SelectolaxError, ValueError, UnicodeError):
        return page  # unparseable input (oversized, undecodable): no links rather than a crash

    anchors: list[tuple[LexborNode, bool]] = []  # (node, is <area>)
    base_href: str | None = None
    canonical_href: str | None = None
    title: str | None = None
    directives: list[str] = []
    for node in nodes:
        tag = node.tag
        if tag == "a":
            anchors.append((node, False))
        elif tag == "area":
            anchors.append((node, True))
        elif tag == "base":
            if base_href is None:
                base_href = node.attributes.get("href") or ""
        elif tag == "title":
            if title is None:
                title = node.text()
        elif tag == "link":
            if canonical_href is None:
                attrs = node.attributes
                if "canonical" in _rel_tokens(attrs.get("rel") or ""):
                    canonical_href = attrs.get("href") or ""
        elif tag == "meta":
            attrs = node.attributes
            name = (attrs.get("name") or "").strip().lower()
            if name == "robots" or name == agent:
                directives.append(attrs.get("content") or "")

    if directives:
        noindex, nofollow = _robots_flags(directives, agent)
        page.noindex |= noindex
        page.nofollow |= nofollow
    if title:
        page.title = _collapse(title)
    base = url
    if base_href is not None:
        base = resolve(url, base_href) or url
    if canonical_href is not None:
        page.canonical = resolve(base, canonical_href) or ""

    resolve_href = resolver(base)
    links = page.links
    for node, is_area in anchors:
        attrs = node.attributes
        target = resolve_href(attrs.get("href") or "")
        if target is None:
            continue
        rel = attrs.get("rel")
        rel_tokens = _rel_tokens(rel) if rel else _NO_REL
        if is_area:
            links.append(Link(target, _collapse(attrs.get("alt") or ""), rel_tokens, "area"))
            continue
        text = node.text()
        anchor = _collapse(text) if text else ""
        if not anchor:
            # A Python walk beats compiling a CSS selector for these few descendants.
            alts = [n.attributes.get("alt") for n in node.traverse() if n.tag == "img"]
            anchor = _collapse(" ".join(alt for alt in alts if alt))
        links.append(Link(target, anchor, rel_tokens, "a"))
    return page


def redirect_link(url: str, location: str) -> Link | None:
    """The one link of a 3xx response: its Location, resolved against the request URL."""
    target = resolve(url, location)
    return Link(target, "", _NO_REL, "redirect") if target else None
