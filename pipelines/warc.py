"""Ties each page to its archived fetch, and optionally archives its outlinks.

The capture middleware (crawler/middlewares/capture.py) archives every fetch as it arrives; here
a page's `fetched_at` becomes its record's WARC-Date, so the index and the archive name a fetch
by the same time (`linkgraph ingest-warc` of the files rebuilds the same rows). With
LINKGRAPH_WARC_METADATA a `metadata` record lists the page's outlinks, as Heritrix writes them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from scrapy.exceptions import NotConfigured

from crawler.items import PageItem
from crawler.warc.archive import Archive, archive_for

if TYPE_CHECKING:
    from scrapy.crawler import Crawler


class WarcPipeline:
    def __init__(self, archive: Archive, outlinks: bool) -> None:
        self.archive = archive
        self.outlinks = outlinks

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> WarcPipeline:
        if not crawler.settings.get("LINKGRAPH_WARC_DIR"):
            raise NotConfigured  # silently: archiving is opt-in
        return cls(archive_for(crawler), crawler.settings.getbool("LINKGRAPH_WARC_METADATA"))

    def process_item(self, item: PageItem) -> PageItem:
        archived = item.archived
        if archived is None:
            return item  # nothing was received, so nothing was archived
        item.fetched_at = archived.fetched_at
        if self.outlinks and item.parsed is not None and item.parsed.links:
            urls = list(dict.fromkeys(link.url for link in item.parsed.links))
            self.archive.record_outlinks(item.url, archived, urls)
        return item
