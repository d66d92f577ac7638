"""Parses each page exactly once and attaches the result (`PageItem.parsed`) for later stages.

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
from crawler.extraction import Limits, extract, redirect_link
from crawler.items import PageItem, ParsedPage

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

# Bodies up to this size parse in well under a millisecond: not worth a thread hop.
INLINE_BYTES = 64 * 1024
PARSE_THREADS = 2


def charset_of(content_type_header: str) -> str | None:
    for param in content_type_header.split(";")[1:]:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip():
            return value.strip().strip("\"'")
    return None


class ExtractionPipeline:
    def __init__(self, agent: str, limits: Limits) -> None:
        self.agent = agent
        self.limits = limits
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
            item.parsed = self.parse(item)
        else:
            # Imported here: importing the reactor at module load would install Twisted's default
            # one in any process that imports this module before Scrapy installs its own.
            from twisted.internet import reactor

            parsing = threads.deferToThreadPool(reactor, self._pool, self.parse, item)
            item.parsed = await maybe_deferred_to_future(parsing)
        return item

    def parse(self, item: PageItem) -> ParsedPage:
        if item.error:
            return ParsedPage()
        if 300 <= item.status < 400:
            if not item.location:
                return ParsedPage()
            # The spider left `location` empty if it was over the URL bound (and said so).
            link = redirect_link(item.url, item.location, self.limits.url_length)
            return ParsedPage(links=[link] if link else [])
        if not (200 <= item.status < 300 and item.is_html):
            return ParsedPage()  # error pages and non-HTML files are recorded without links
        x_robots = item.headers.get("x-robots-tag")
        link_header = item.headers.get("link")
        return extract(
            item.body,
            item.url,
            encoding=charset_of(item.headers.get("content-type", "")),
            x_robots_tag=x_robots.split("\n") if x_robots else None,
            link_header=link_header.split("\n") if link_header else None,
            agent=self.agent,
            limits=self.limits,
        )
