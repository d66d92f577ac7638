"""Reads each fetched sitemap, and queues what it lists (crawler/sitemaps.py says what a sitemap
is to the index, where sitemaps come from and how they are bounded).

A fetched URL is a sitemap when it is in the job's sitemap set, or when it is an XML sitemap by
its root element (so a re-crawl, which fetches known pages, reads known sitemaps again); as
sitemaps are queued at depth 0, only depth-0 responses are looked at. The sitemap replaces what
the extraction pipeline made of the response (nothing, for XML, gzip or text). The URLs it lists
are queued at depth 0, within the crawl's scope, as seeds are; the sitemaps an index lists are
registered in turn. The sitemaps a job is seeded with (`--seed-sitemaps`) are registered when the
crawl opens.
"""

from __future__ import annotations

from itertools import islice
from typing import TYPE_CHECKING

from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet import threads

from crawler.frontier import frontier_for
from crawler.items import PageItem
from crawler.scope import Scope
from crawler.sitemaps import SitemapLimits, SitemapRegistry, is_xml_sitemap, read_sitemap
from crawler.urls import host_of, registered_domain
from pipelines.frontier import scope_of

if TYPE_CHECKING:
    from scrapy.crawler import Crawler


class SitemapPipeline:
    def __init__(
        self,
        registry: SitemapRegistry,
        scope: Scope,
        limits: SitemapLimits,
        *,
        follow: bool,
        chunk: int,
        seeds: list[str],
        off_reactor: bool = False,
    ) -> None:
        self.registry = registry
        # LINKGRAPH_FRONTIER_THREAD: its Redis look-up waits in a thread, not on the reactor
        self.off_reactor = off_reactor
        self.seeds = seeds
        self.scope = scope
        self.limits = limits
        self.follow = follow
        self.chunk = chunk

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SitemapPipeline:
        s = crawler.settings
        registry = SitemapRegistry(
            frontier_for(crawler), s.getint("LINKGRAPH_MAX_SITEMAPS_PER_HOST")
        )
        limits = SitemapLimits(
            urls=s.getint("LINKGRAPH_MAX_SITEMAP_URLS"),
            bytes=s.getint("LINKGRAPH_MAX_SITEMAP_BYTES"),
        )
        return cls(
            registry,
            scope_of(s),
            limits,
            follow=s.getbool("LINKGRAPH_FOLLOW_LINKS"),
            chunk=max(1, s.getint("LINKGRAPH_QUEUE_CHUNK")),
            seeds=s.getlist("LINKGRAPH_SEED_SITEMAPS"),
            off_reactor=s.getbool("LINKGRAPH_FRONTIER_THREAD"),
        )

    def open_spider(self) -> None:
        # Every worker registers them: the registry reads and queues each one once.
        self.registry.register(self.seeds)

    async def process_item(self, item: PageItem) -> PageItem:
        if item.depth or item.error or not 200 <= item.status < 300:
            return item
        sniffed = not item.is_html and is_xml_sitemap(item.body)
        if sniffed or not self.off_reactor:
            return self._read(item, sniffed or self.registry.is_sitemap(item.url))
        known = threads.deferToThread(self.registry.is_sitemap, item.url)
        return self._read(item, await maybe_deferred_to_future(known))

    def _read(self, item: PageItem, is_sitemap: bool) -> PageItem:
        if not is_sitemap:
            return item
        item.parsed = parsed = read_sitemap(item.body, self.limits)
        if not self.follow:
            return item  # a re-crawl fetches the known pages only
        self.registry.register(link.url for link in parsed.links if link.tag == "index")
        src_domain = registered_domain(host_of(item.url))
        listed = dict.fromkeys(link.url for link in parsed.links if link.tag != "index")
        queued = (url for url in listed if self.scope.follows(url, src_domain))
        while chunk := list(islice(queued, self.chunk)):
            self.registry.frontier.add((url, 0) for url in chunk)
        return item
