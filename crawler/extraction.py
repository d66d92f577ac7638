"""Link extraction: one HTML5 parse of a page yields its links, title, canonical and robots flags.

This runs for every fetched page, so the document is parsed exactly once (lexbor, the
HTML Standard's tree builder: nothing in comments, <script> or <template> becomes an element)
and walked by one CSS query; the per-link work is a dict lookup, a text read and a resolve,
most resolves answered by crawler/linkcache.py's memo. Besides <a> and <area> (SVG's <a>
included, by its `href` or `xlink:href`), the walk records the other links link explorers
show, each with its type (crawler/items.py's LINK_TYPES): canonical and hreflang <link>s (and
the same in the `Link` header), <frame> and <iframe> sources, and <form> actions.

The page's encoding is decided as a browser decides it (crawler/encoding.py); when nothing but
a guess decided it and the parser meets a `<meta>` declaring another one, the page is parsed
again in that encoding, as a browser reloads it. A link's query is encoded in the page's
encoding, its path in UTF-8.

A hostile page costs no more than its `Limits` allow: a document nested deeper than
`Limits.nesting` is parsed only up to there (see crawler/nesting.py for why depth costs time),
at most `Limits.links` links are recorded, a link to a URL longer than `Limits.url_length` is
counted rather than stored cut (a cut URL is a wrong URL), anchors and the title are cut to
`Limits.anchor_length` characters, and the link walk stops after `Limits.seconds`. What was left
out is said in `ParsedPage.incomplete`, which the index keeps in `pages.error`.
"""

from __future__ import annotations

import logging
import math
import re
import sys
import time
from dataclasses import dataclass, field
from functools import lru_cache

from selectolax.lexbor import LexborHTMLParser, LexborNode, SelectolaxError

from crawler import settings
from crawler.encoding import UTF8, Decided, decide, declared_by_meta, decode, encode_query
from crawler.items import Link, ParsedPage
from crawler.linkcache import RESOLUTIONS
from crawler.linkheader import header_links
from crawler.nesting import SAFE_TAGS, too_deep_at
from crawler.urls import resolve

__all__ = ["Limits", "extract", "long_urls", "redirect_link"]

logger = logging.getLogger(__name__)

# Document order matters (links are kept in order), and one query walks the tree once. lexbor's
# `a[href]` also matches an `xlink:href` attribute (the SVG 1.1 spelling), which the walk sorts out.
_SELECTOR = (
    "a[href], area[href], base[href], title, link[rel][href], meta, "
    "frame[src], iframe[src], form[action]"
)
_ASCII_SPACE = re.compile(r"[\t\n\f\r ]+")
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
# "name: value" directives that are not an agent prefix in an X-Robots-Tag value.
_VALUED_DIRECTIVES = frozenset(
    {"max-snippet", "max-image-preview", "max-video-preview", "unavailable_after"}
)
_AGENT_PREFIX = re.compile(r"\s*([a-z][a-z0-9_.-]*)\s*:(.*)", re.ASCII | re.DOTALL)
_DIRECTIVE_SEPARATORS = re.compile(r"[\s;]+")
_NO_REL: frozenset[str] = frozenset()
_CLOCK_EVERY = 256  # anchors read between two looks at the clock
_new_link = tuple.__new__


@dataclass(frozen=True, slots=True)
class Limits:
    """What one page may cost and store; the LINKGRAPH_MAX_* settings say what each means."""

    links: int = settings.LINKGRAPH_MAX_LINKS_RECORDED
    url_length: int = settings.LINKGRAPH_MAX_LINK_URL_LENGTH
    anchor_length: int = settings.LINKGRAPH_MAX_ANCHOR_LENGTH
    nesting: int = settings.LINKGRAPH_MAX_NESTING
    seconds: float = settings.LINKGRAPH_PARSE_SECONDS


DEFAULT_LIMITS = Limits()


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


def _parser(body: bytes, decided: Decided, max_nesting: int) -> tuple[LexborHTMLParser, bool]:
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
class _Walk:
    """What the query walk collects, before any URL is resolved."""

    # (node, its link attribute's value, its rel or None, tag): each node's attributes are
    # read once, as reading them builds a dict.
    elements: list[tuple[LexborNode, str, str | None, str]]
    base_href: str | None = None
    canonical_href: str | None = None
    title: str | None = None
    directives: list[str] = field(default_factory=list)
    declared: str | None = None  # the codec the first declaring <meta> names


def _walk(nodes: list[LexborNode], agent: str, tentative: bool) -> _Walk:
    found = _Walk([])
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
            rel = _rel_tokens(rel_value)
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


def extract(
    body: bytes,
    url: str,
    *,
    encoding: str | None = None,
    x_robots_tag: str | list[str] | None = None,
    link_header: list[str] | None = None,
    agent: str = "linkgraph",
    limits: Limits = DEFAULT_LIMITS,
) -> ParsedPage:
    """Parse an HTML page fetched from `url` (its final URL, after redirects); `encoding` is the
    charset of its Content-Type, `link_header` the values of its `Link` header."""
    deadline = time.monotonic() + (limits.seconds or math.inf)
    agent = agent.lower()
    page = ParsedPage()
    if x_robots_tag:
        headers = [x_robots_tag] if isinstance(x_robots_tag, str) else x_robots_tag
        page.noindex, page.nofollow = _robots_flags(headers, agent)
    decided = decide(body, f"text/html; charset={encoding}" if encoding else None)
    try:
        parser, cut = _parser(body, decided, limits.nesting)
        found = _walk(parser.css(_SELECTOR), agent, decided.tentative)
        if decided.tentative and found.declared:
            # A declaration met late decides: a browser reloads the page if it differs.
            guessed, decided = decided.encoding, Decided(found.declared, "late meta")
            if decided.encoding != guessed:
                parser, cut = _parser(body, decided, limits.nesting)
                found = _walk(parser.css(_SELECTOR), agent, False)
    except (SelectolaxError, ValueError, UnicodeError, LookupError):
        return page  # unparseable input (oversized, undecodable): no links rather than a crash
    page.encoding, page.encoding_source = decided.encoding, decided.source
    logger.debug("%s: decoded as %s (%s)", url, decided.encoding, decided.source)

    if found.directives:
        noindex, nofollow = _robots_flags(found.directives, agent)
        page.noindex |= noindex
        page.nofollow |= nofollow
    if found.title:
        page.title = _collapse(found.title)[: limits.anchor_length or None]
    url_encoding = decided.url_encoding

    def href_in_page(href: str) -> str:
        return href if url_encoding == UTF8 else encode_query(href, url_encoding)

    base = url
    if found.base_href is not None:
        base = resolve(url, href_in_page(found.base_href)) or url
    resolve_href = RESOLUTIONS.resolver(base)
    links = page.links
    append = links.append
    max_links = limits.links or sys.maxsize
    max_url = limits.url_length or sys.maxsize
    max_anchor = limits.anchor_length or None
    too_long = 0
    for declared in header_links(link_header) if link_header else ():
        # RFC 8288: a header's reference is relative to the response's URL, not to <base>.
        target = resolve(url, href_in_page(declared.href))
        if target is None:
            continue
        if len(target) > max_url:
            too_long += 1
        elif len(links) < max_links:
            links.append(Link(target, "", declared.rel, "header", declared.type))
            if declared.type == "canonical" and not page.canonical:
                page.canonical = target
    if found.canonical_href is not None:
        canonical = resolve(base, href_in_page(found.canonical_href)) or ""
        page.canonical = "" if len(canonical) > max_url else canonical

    # Elements are read in slices that cannot pass the bound on links (one link per element
    # at most), and the clock is read between slices: no per-link check on the hot path.
    elements = found.elements
    late = False
    read = 0
    while read < len(elements):
        room = max_links - len(links)
        if room <= 0:
            break
        if read and time.monotonic() > deadline:
            late = True
            break
        end = min(len(elements), read + min(room, _CLOCK_EVERY))
        for node, href, rel, tag in elements[read:end]:
            target = resolve_href(href if href.isascii() else href_in_page(href))
            if target is None:
                continue
            if len(target) > max_url:
                too_long += 1
                continue
            rel_tokens = _rel_tokens(rel) if rel else _NO_REL
            # Links are built by tuple.__new__, in Link's field order (url, anchor, rel, tag,
            # type): a third of the cost of calling Link, on a hundred links a page.
            if tag == "a":
                # textContent, read by lexbor itself: a third of the cost of node.text()
                text = node.text_lexbor()
                anchor = " ".join(text.split()) if text else ""  # _collapse, inline
                if anchor:
                    append(_new_link(Link, (target, anchor[:max_anchor], rel_tokens, "a", "text")))
                    continue
                kind = "text"
                # A Python walk beats compiling a CSS selector for these few descendants.
                images = [n for n in node.traverse() if n.tag == "img"]
                if images:
                    kind = "image"
                    alts = (n.attributes.get("alt") for n in images)
                    anchor = _collapse(" ".join(alt for alt in alts if alt))
                append(_new_link(Link, (target, anchor[:max_anchor], rel_tokens, "a", kind)))
            elif tag in ("canonical", "hreflang"):
                append(_new_link(Link, (target, "", rel_tokens, "link", tag)))
            elif tag == "form":
                append(_new_link(Link, (target, "", rel_tokens, "form", "form")))
            elif tag in ("frame", "iframe"):
                append(_new_link(Link, (target, "", rel_tokens, tag, "frame")))
            else:  # <area>: rare enough to read its attributes twice
                anchor = _collapse(node.attributes.get("alt") or "")
                append(_new_link(Link, (target, anchor[:max_anchor], rel_tokens, "area", "area")))
        read = end
    unread = len(elements) - read
    if cut or too_long or unread:
        page.incomplete = _left_out(cut, too_long, unread, late, limits)
    return page


def long_urls(count: int, max_url_length: int) -> str:
    return f"links to URLs over {max_url_length} characters not recorded: {count}"


def _left_out(cut: bool, too_long: int, unread: int, late: bool, limits: Limits) -> str:
    """Why some links of a page were not recorded, "" when none were left out."""
    reasons = []
    if cut:
        reasons.append(f"nested deeper than {limits.nesting} elements: the rest not parsed")
    if too_long:
        reasons.append(long_urls(too_long, limits.url_length))
    if unread and late:
        reasons.append(f"link extraction over {limits.seconds:g} s: {unread} <a>/<area> not read")
    elif unread:
        reasons.append(f"{limits.links} links recorded: {unread} more <a>/<area> not read")
    return "; ".join(reasons)


def redirect_link(
    url: str, location: str, max_url_length: int = DEFAULT_LIMITS.url_length
) -> Link | None:
    """The one link of a 3xx response: its Location, resolved against the request URL (None
    when it is not an http(s) URL or longer than `max_url_length`)."""
    target = resolve(url, location)
    if not target or (max_url_length and len(target) > max_url_length):
        return None
    return Link(target, "", _NO_REL, "redirect", "redirect")
