"""Parses each page exactly once (crawler/page_parser.py) and attaches the result
(`PageItem.parsed`) for later stages.

A large page is parsed on a thread of its own, not on the reactor's: lexbor releases the GIL while
it builds the tree, so the crawl keeps fetching, heartbeating and storing meanwhile. A small page
is parsed in place, as a thread hop would cost more than its parse.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet import threads
from twisted.python.threadpool import ThreadPool

from crawler import ROBOTS_TOKEN
from crawler.extraction import Limits
from crawler.items import PageItem
from crawler.page_parser import PageParser

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

# Bodies up to this size parse in well under a millisecond: not worth a thread hop.
INLINE_BYTES = 64 * 1024
PARSE_THREADS = 2


class ExtractionPipeline:
    def __init__(self, agent: str, limits: Limits) -> None:
        self.parser = PageParser(agent, limits)
        self._pool: ThreadPool | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ExtractionPipeline:
        s = crawler.settings
        limits = Limits(
            links=s.getint("LINKGRAPH_MAX_LINKS_RECORDED"),
            url_length=s.getint("LINKGRAPH_MAX_LINK_URL_LENGTH"),
            anchor_length=s.getint("LINKGRAPH_MAX_ANCHOR_LENGTH"),
            nesting=s.getint("LINKGRAPH_MAX_NESTING"),
            seconds=s.getfloat("LINKGRAPH_PARSE_SECONDS"),
        )
        return cls(ROBOTS_TOKEN, limits)

    def open_spider(self) -> None:
        self._pool = ThreadPool(minthreads=0, maxthreads=PARSE_THREADS, name="extraction")
        self._pool.start()

    def close_spider(self) -> None:
        if self._pool is not None:
            self._pool.stop()
            self._pool = None

    async def process_item(self, item: PageItem) -> PageItem:
        if len(item.body) <= INLINE_BYTES or self._pool is None:
            item.parsed = self.parser.parse(item)
        else:
            # Imported here: importing the reactor at module load would install Twisted's default
            # one in any process that imports this module before Scrapy installs its own.
            from twisted.internet import reactor

            parsing = threads.deferToThreadPool(reactor, self._pool, self.parser.parse, item)
            item.parsed = await maybe_deferred_to_future(parsing)
        return item
