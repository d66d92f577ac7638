"""Link extraction: one HTML5 parse of a page yields its links, title, canonical and robots flags.

The parse and the walk that collects the page's link elements are crawler/html_walk.py's; here
each element becomes a `Link` with its type (crawler/items.py's LINK_TYPES), the links of the
`Link` header joining them. The per-link work is a dict lookup, a text read and a resolve, most
resolves answered by crawler/linkcache.py's memo.

The page's encoding is decided as a browser decides it (crawler/encoding.py); when nothing but
a guess decided it and the parser meets a `<meta>` declaring another one, the page is parsed
again in that encoding, as a browser reloads it. A link's query is encoded in the page's
encoding, its path in UTF-8.

A hostile page costs no more than its `Limits` allow: a document nested deeper than
`Limits.nesting` is parsed only up to there, at most `Limits.links` links are recorded, a link
to a URL longer than `Limits.url_length` is counted rather than stored cut (a cut URL is a wrong
URL), anchors and the title are cut to `Limits.anchor_length` characters, and the link walk
stops after `Limits.seconds`. What was left out is said in `ParsedPage.incomplete`, which the
index keeps in `pages.error`.
"""

from __future__ import annotations

import logging
import math
import sys
import time
from dataclasses import dataclass

from selectolax.lexbor import SelectolaxError

from crawler import settings
from crawler.encoding import UTF8, Decided, decide, encode_query
from crawler.html_walk import NO_REL, SELECTOR, parse_document, parse_rel, walk
from crawler.items import Link, ParsedPage
from crawler.linkcache import RESOLUTIONS
from crawler.linkheader import header_links
from crawler.page_directives import robots_flags
from crawler.urls import resolve

__all__ = ["Limits", "extract", "long_urls", "redirect_link"]

logger = logging.getLogger(__name__)

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


def _collapse(text: str) -> str:
    # Unicode whitespace on purpose: "Read&nbsp;more" is indexed as "Read more".
    return " ".join(text.split())


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
        page.noindex, page.nofollow = robots_flags(headers, agent)
    decided = decide(body, f"text/html; charset={encoding}" if encoding else None)
    try:
        parser, cut = parse_document(body, decided, limits.nesting)
        found = walk(parser.css(SELECTOR), agent, decided.tentative)
        if decided.tentative and found.declared:
            # A declaration met late decides: a browser reloads the page if it differs.
            guessed, decided = decided.encoding, Decided(found.declared, "late meta")
            if decided.encoding != guessed:
                parser, cut = parse_document(body, decided, limits.nesting)
                found = walk(parser.css(SELECTOR), agent, False)
    except (SelectolaxError, ValueError, UnicodeError, LookupError):
        return page  # unparseable input (oversized, undecodable): no links rather than a crash
    page.encoding, page.encoding_source = decided.encoding, decided.source
    logger.debug("%s: decoded as %s (%s)", url, decided.encoding, decided.source)

    if found.directives:
        noindex, nofollow = robots_flags(found.directives, agent)
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
            rel_tokens = parse_rel(rel) if rel else NO_REL
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
    return Link(target, "", NO_REL, "redirect", "redirect")
