"""Sitemaps (sitemaps.org): the URLs a site publishes, read as bounded as pages are.

A sitemap is a page of its own kind: its `pages` row is its fetch, and each URL it lists is a
`links` row of type `sitemap` from the sitemap to that URL (tag `url` in an XML urlset, `line`
in a text sitemap, `index` for a sitemap an index lists). So the index answers which URLs a site
publishes but does not link: the `sitemap` links whose target no other link reaches.

Where sitemaps come from: the `Sitemap:` lines of robots.txt, `/sitemap.xml` of every host with
`--sitemaps`, a domain's with `--seed-sitemaps`, and the sitemaps an index lists. They are
registered in the job's sitemap set (`SitemapRegistry`) and queued at depth 0; a URL fetched at
depth 0 that is in that set, or that is an XML sitemap by its root element (a re-crawl's known
sitemaps), is read here instead of as HTML. The URLs a sitemap lists are queued at depth 0 too.

The protocol's limits are the bounds: a file is read up to 50 MB uncompressed (a gzip bomb
inflates no further) and 50,000 URLs; a host registers at most LINKGRAPH_MAX_SITEMAPS_PER_HOST
sitemaps, which ends an index that lists itself or an endless chain of new indexes (the frontier
fetches a URL once, which ends a loop of the same ones). What was left out is said in the
sitemap's `pages.error`, as for a page.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from crawler import settings
from crawler.items import Link, ParsedPage
from crawler.urls import canonicalize, host_of

if TYPE_CHECKING:
    from crawler.frontier import Frontier

__all__ = [
    "SitemapLimits",
    "SitemapRegistry",
    "is_xml_sitemap",
    "read_sitemap",
    "robots_sitemaps",
]

SITEMAP = "sitemap"  # the link type of a URL a sitemap lists
_GZIP_MAGIC = b"\x1f\x8b"
_SNIFF_BYTES = 1024  # an XML sitemap names its root element within its first kilobyte
_XML_ROOT = re.compile(
    rb"^\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*<(?:\w+:)?(?:urlset|sitemapindex)\b", re.S
)
_NO_REL: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class SitemapLimits:
    """What one sitemap file may cost; the LINKGRAPH_MAX_SITEMAP_* settings say what each means."""

    urls: int = settings.LINKGRAPH_MAX_SITEMAP_URLS
    bytes: int = settings.LINKGRAPH_MAX_SITEMAP_BYTES


DEFAULT_LIMITS = SitemapLimits()


def _inflate(body: bytes, max_bytes: int) -> tuple[bytes, str]:
    """A gzip body inflated up to `max_bytes`, and why it is incomplete ("" when it is not)."""
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        data = inflater.decompress(body, max_bytes)
    except zlib.error as exc:
        return b"", f"not gzip: {exc}"
    if inflater.unconsumed_tail:
        return data, f"over {max_bytes} bytes uncompressed: the rest not read"
    return data, ""


def _whole_entries(data: bytes, is_xml: bool) -> bytes:
    """A cut file up to its last whole entry: the rest of a cut URL is not a URL."""
    if is_xml:
        return data[: max(data.rfind(b"</url>") + 6, data.rfind(b"</sitemap>") + 10, 0)]
    return data[: data.rfind(b"\n") + 1]


def is_xml_sitemap(body: bytes) -> bool:
    """Whether a body (gzipped or not) is an XML sitemap or index, by its root element: such a
    file says what it is, where a text sitemap is one only because it is named as one."""
    head = body[: _SNIFF_BYTES * 4]
    if head.startswith(_GZIP_MAGIC):
        head, _ = _inflate(head, _SNIFF_BYTES)
    return _XML_ROOT.match(head) is not None


def _xml_locs(data: bytes) -> tuple[str, Iterator[str]]:
    """The root's name (urlset, sitemapindex) and the `<loc>` of each entry, as written."""
    from scrapy.utils.sitemap import Sitemap  # see read_sitemap

    sitemap = Sitemap(data)
    return sitemap.type, (entry["loc"] for entry in sitemap if entry.get("loc"))


def _text_locs(data: bytes) -> Iterator[str]:
    for line in data.decode("utf-8", "replace").splitlines():
        if line.strip():
            yield line.strip()


def read_sitemap(body: bytes, limits: SitemapLimits = DEFAULT_LIMITS) -> ParsedPage:
    """The URLs a sitemap file lists (XML urlset or index, text, either gzipped), as links."""
    # Scrapy's and lxml's modules are imported when a sitemap (or robots.txt) is read: importing
    # Scrapy would cost every `ingest-warc` worker a fifth of a second of CPU at its start, and
    # most of the files it reads hold no sitemap.
    from lxml.etree import LxmlError

    notes = []
    data = body
    if body.startswith(_GZIP_MAGIC):
        data, note = _inflate(body, limits.bytes)  # 0: no bound
        notes.append(note)
    elif limits.bytes and len(body) > limits.bytes:
        data = body[: limits.bytes]
        notes.append(f"over {limits.bytes} bytes: the rest not read")
    is_xml = data.lstrip()[:1] == b"<"
    if any(notes):
        data = _whole_entries(data, is_xml)
    tag, locs = "line", _text_locs(data)
    if is_xml:
        try:
            kind, locs = _xml_locs(data)
        except (LxmlError, StopIteration, ValueError):
            kind, locs = "", iter(())
            notes.append("not a sitemap: no XML root")
        tag = "index" if kind == "sitemapindex" else "url"
    page = ParsedPage()
    max_urls = limits.urls or None
    listed = 0
    try:
        for loc in locs:
            if max_urls is not None and listed >= max_urls:
                notes.append(f"{max_urls} URLs read: the rest not read")
                break
            listed += 1
            url = canonicalize(loc)
            if url is not None:  # a relative or non-http(s) <loc> is no URL
                page.links.append(Link(url, "", _NO_REL, tag, SITEMAP))
    except LxmlError as exc:  # recovered as far as it goes, then given up
        notes.append(f"XML broken after {listed} URLs: {exc}")
    page.incomplete = "; ".join(note for note in notes if note)
    return page


def robots_sitemaps(robots_body: bytes, robots_url: str) -> list[str]:
    """The canonical http(s) URLs of the `Sitemap:` lines of a robots.txt."""
    from scrapy.utils.sitemap import sitemap_urls_from_robots  # see read_sitemap

    found = (canonicalize(url) for url in sitemap_urls_from_robots(robots_body, robots_url))
    return list(dict.fromkeys(url for url in found if url))


def host_sitemaps(
    mode: str, origin: str, robots_url: str, status: int, robots_body: bytes
) -> list[str]:
    """The sitemaps to read for an origin whose robots.txt was fetched from `robots_url` (where
    its redirects ended) with `status`, under LINKGRAPH_SITEMAPS `mode`: robots (its `Sitemap:`
    lines), all (and the origin's `/sitemap.xml`), none."""
    if mode == "none":
        return []
    found = robots_sitemaps(robots_body, robots_url) if status == 200 else []
    if mode == "all" and (default := canonicalize(f"{origin}/sitemap.xml")):
        found.append(default)  # the origin spells out its port: canonical, it may not
    return list(dict.fromkeys(found))


def seed_sitemaps(target: str) -> str | None:
    """`/sitemap.xml` of a domain (`example.com`: https) or of a URL's origin; None when
    `target` is neither."""
    url = canonicalize(target if "://" in target else f"https://{target}/")
    if url is None:
        return None
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}/sitemap.xml"


class SitemapRegistry:
    """The job's sitemaps, shared by every worker through the frontier's Redis."""

    def __init__(self, frontier: Frontier, max_per_host: int) -> None:
        self.frontier = frontier
        self.max_per_host = max_per_host

    def register(self, urls: Iterable[str]) -> list[str]:
        """Register and queue (at depth 0) the sitemaps not registered before, as many as their
        hosts may still have; returns those registered."""
        keys, client = self.frontier.keys, self.frontier.client
        candidates = list(dict.fromkeys(urls))
        if not candidates:
            return []
        pipe = client.pipeline(transaction=False)
        for url in candidates:
            pipe.sadd(keys.sitemaps, url)
        new = [url for url, added in zip(candidates, pipe.execute(), strict=True) if added]
        for url in new:
            pipe.hincrby(keys.sitemap_hosts, host_of(url), 1)
        counts = pipe.execute() if new else []
        over = [
            u
            for u, n in zip(new, counts, strict=True)
            if self.max_per_host and n > self.max_per_host
        ]
        if over:  # the host has had its share: these are not read as sitemaps
            client.srem(keys.sitemaps, *over)
        refused = set(over)
        # Those registered before are queued too (the frontier's dedupe makes it a no-op once
        # they are): the process that registered them may have stopped before queueing them,
        # on a frontier error, and robots.txt is then fetched and read again.
        self.frontier.add((url, 0) for url in candidates if url not in refused)
        return [url for url in new if url not in refused]

    def is_sitemap(self, url: str) -> bool:
        return bool(self.frontier.client.sismember(self.frontier.keys.sitemaps, url))
