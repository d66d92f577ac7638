"""Records pages and links in ClickHouse, in batches, and only then ends their frontier leases.

Rows are buffered and written by one background thread (the crawl keeps fetching meanwhile), at
most one batch in flight so memory stays bounded. A page's lease is acknowledged after its rows
are stored: if the process dies first, the page is fetched again on resume, never lost.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from twisted.internet import task

from crawler.frontier import Frontier, fingerprint, frontier_for
from crawler.items import PageItem
from crawler.storage import StorageTarget, connect
from crawler.urls import canonical_host, registered_domain

if TYPE_CHECKING:
    from clickhouse_connect.driver.client import Client
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

PAGE_COLUMNS = [
    "job",
    "url",
    "host",
    "domain",
    "status",
    "content_type",
    "bytes",
    "depth",
    "fetched_at",
    "title",
    "canonical",
    "noindex",
    "nofollow",
    "error",
    "location",
    "links",
]
LINK_COLUMNS = [
    "job",
    "src_url",
    "src_host",
    "src_domain",
    "dst_url",
    "dst_host",
    "dst_domain",
    "anchor",
    "tag",
    "nofollow",
    "ugc",
    "sponsored",
    "page_nofollow",
    "fetched_at",
]
WRITE_ATTEMPTS = 3


class StorageFailed(RuntimeError):
    pass


class ClickHousePipeline:
    def __init__(
        self,
        crawler: Crawler,
        target: StorageTarget,
        frontier: Frontier,
        *,
        batch_rows: int,
        batch_seconds: float,
    ) -> None:
        self.crawler = crawler
        self.target = target
        self.frontier = frontier
        self.batch_rows = batch_rows
        self.batch_seconds = batch_seconds
        self.client: Client | None = None
        self._pages: list[list[Any]] = []
        self._links: list[list[Any]] = []
        self._fps: list[str] = []
        self._since = time.monotonic()
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="clickhouse")
        self._pending: Future[None] | None = None
        self._ticker: task.LoopingCall | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ClickHousePipeline:
        s = crawler.settings
        target = StorageTarget(
            s["LINKGRAPH_CLICKHOUSE_URL"], Path(s["LINKGRAPH_DATA_DIR"]), s["LINKGRAPH_DATABASE"]
        )
        return cls(
            crawler,
            target,
            frontier_for(crawler),
            batch_rows=s.getint("LINKGRAPH_BATCH_ROWS"),
            batch_seconds=s.getfloat("LINKGRAPH_BATCH_SECONDS"),
        )

    def open_spider(self) -> None:
        self.client = connect(self.target)
        self._ticker = task.LoopingCall(self._tick)
        self._ticker.start(self.batch_seconds, now=False)

    def close_spider(self) -> None:
        if self._ticker is not None and self._ticker.running:
            self._ticker.stop()
        self.flush()
        self._wait()
        self._writer.shutdown()

    def process_item(self, item: PageItem) -> PageItem:
        when = datetime.fromtimestamp(item.fetched_at, tz=timezone.utc)
        host = canonical_host(item.url)
        domain = registered_domain(host)
        parsed = item.parsed
        links = parsed.links if parsed else []
        page_nofollow = int(bool(parsed and parsed.nofollow))
        self._pages.append(
            [
                item.job,
                item.url,
                host,
                domain,
                item.status,
                item.content_type,
                len(item.body),
                item.depth,
                when,
                parsed.title if parsed else "",
                parsed.canonical if parsed else "",
                int(bool(parsed and parsed.noindex)),
                page_nofollow,
                item.error,
                item.location,
                len(links),
            ]
        )
        for link in links:
            dst_host = canonical_host(link.url)
            self._links.append(
                [
                    item.job,
                    item.url,
                    host,
                    domain,
                    link.url,
                    dst_host,
                    registered_domain(dst_host),
                    link.anchor,
                    link.tag,
                    int(link.nofollow),
                    int(link.ugc),
                    int(link.sponsored),
                    page_nofollow,
                    when,
                ]
            )
        self._fps.append(fingerprint(item.url))
        stats = self.crawler.stats
        if stats is not None:
            stats.inc_value("linkgraph/pages")
            stats.inc_value("linkgraph/links", len(links))
        if len(self._links) >= self.batch_rows or len(self._pages) >= self.batch_rows // 10:
            self.flush()
        return item

    def _tick(self) -> None:
        if self._pending is not None and self._pending.done():
            self._check(self._pending)
        if self._pages and time.monotonic() - self._since >= self.batch_seconds:
            self.flush()

    def flush(self) -> None:
        """Hand the buffered rows to the writer thread (waiting for the previous batch)."""
        self._since = time.monotonic()
        if not self._pages:
            return
        self._wait()
        batch = (self._pages, self._links, self._fps)
        self._pages, self._links, self._fps = [], [], []
        self._pending = self._writer.submit(self._write, *batch)

    def _wait(self) -> None:
        if self._pending is not None:
            self._pending.exception()  # block until done
            self._check(self._pending)

    def _check(self, future: Future[None]) -> None:
        self._pending = None if future is self._pending else self._pending
        exc = future.exception()
        if exc is not None:
            logger.error(
                "cannot write to ClickHouse at %s: %s; stopping the crawl (pages not recorded "
                "stay leased and are fetched again when the job resumes)",
                self.target.describe(),
                exc,
            )
            if self.crawler.engine is not None and self.crawler.engine.spider is not None:
                self.crawler.engine.close_spider(self.crawler.engine.spider, "storage_error")
            raise StorageFailed(str(exc)) from exc

    def _write(self, pages: list[list[Any]], links: list[list[Any]], fps: list[str]) -> None:
        assert self.client is not None
        for attempt in range(1, WRITE_ATTEMPTS + 1):
            try:
                if links:
                    self.client.insert("links", links, column_names=LINK_COLUMNS)
                self.client.insert("pages", pages, column_names=PAGE_COLUMNS)
                break
            except Exception:
                if attempt == WRITE_ATTEMPTS:
                    raise
                time.sleep(attempt)
        self.frontier.ack(fps)
