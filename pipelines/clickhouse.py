"""Records pages and links in the index, in batches; their frontier leases end only once stored.

Rows are buffered and handed to a sink (ClickHouse directly, or the coordinator through Redis, see
crawler/sinks.py) by one background thread, so the crawl keeps fetching meanwhile; at most one
batch is in flight, so memory stays bounded. If the process dies before a batch is stored, its
pages are fetched again when their leases run out: never lost.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from twisted.internet import task

from crawler import jobs
from crawler.frontier import Frontier, fingerprint, frontier_for
from crawler.items import PageItem
from crawler.sinks import ClickHouseSink, Row, Sink, StreamConsumer, StreamSink
from crawler.storage import StorageTarget, connect
from crawler.urls import canonical_host, registered_domain

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

WRITE_ATTEMPTS = 3
TICK_SECONDS = 0.5


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
        handoff: bool,
        workers_wait: float,
    ) -> None:
        self.crawler = crawler
        self.target = target
        self.frontier = frontier
        self.batch_rows = batch_rows
        self.batch_seconds = batch_seconds
        self.handoff = handoff
        self.workers_wait = workers_wait
        self.sink: Sink | None = None
        # The owner of an embedded index also inserts what other workers hand over.
        self.consumer: StreamConsumer | None = None
        self._pages: list[Row] = []
        self._links: list[Row] = []
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
            handoff=s.getbool("LINKGRAPH_HANDOFF"),
            workers_wait=s.getfloat("LINKGRAPH_WORKERS_WAIT"),
        )

    def open_spider(self) -> None:
        if self.handoff:
            self.sink = StreamSink(self.frontier.client, self.frontier.keys.rows)
        else:
            client = connect(self.target)
            self.sink = ClickHouseSink(client, self.frontier)
            if self.target.embedded:
                f = self.frontier
                self.consumer = StreamConsumer(f.client, f.keys.rows, client, f)
        self._ticker = task.LoopingCall(self._tick)
        self._ticker.start(TICK_SECONDS, now=False)

    def close_spider(self) -> None:
        if self._ticker is not None and self._ticker.running:
            self._ticker.stop()
        self.flush()
        self._wait()
        if self.consumer is not None:
            self._wait_for_workers(self.consumer)
        self._writer.shutdown()

    def _wait_for_workers(self, consumer: StreamConsumer) -> None:
        """Other workers hand their rows to this process: stay until they have all left."""
        if self.frontier.has_work():  # stopping early, not finished: stop the others too
            jobs.set_state(self.frontier.client, self.frontier.job, jobs.STOPPED)
        deadline = time.monotonic() + self.workers_wait
        while self.frontier.live_workers() > 1 and time.monotonic() < deadline:
            consumer.drain(block_ms=200)
        while consumer.drain(block_ms=10):
            pass

    def process_item(self, item: PageItem) -> PageItem:
        when = item.fetched_at
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
        elif self.consumer is not None and self._pending is None:
            self._pending = self._writer.submit(self._drain, self.consumer)

    @staticmethod
    def _drain(consumer: StreamConsumer) -> None:
        while consumer.drain(block_ms=None):
            pass

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

    def _write(self, pages: list[Row], links: list[Row], fps: list[str]) -> None:
        assert self.sink is not None
        for attempt in range(1, WRITE_ATTEMPTS + 1):
            try:
                self.sink.write(pages, links, fps)
                return
            except Exception:
                if attempt == WRITE_ATTEMPTS:
                    raise
                time.sleep(attempt)
