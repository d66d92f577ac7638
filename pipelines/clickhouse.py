"""Records pages and links in the index, in batches; their frontier leases end only once stored.

Rows (crawler/rows.py) are buffered (row_batcher.py) and handed to a sink by one background
thread (row_writer.py), so the crawl keeps fetching meanwhile; at most one batch is in flight, so
memory stays bounded. The sink is the index (chDB or a ClickHouse server), or, for a worker of a
job whose index is embedded in another process, the hand-off stream to that process
(crawler/sinks.py chooses by URL scheme). This module wires those parts to the crawl.

When the index cannot take a batch, the batch waits in an on-disk spool and is replayed in order
once the index is back, with its deduplication token (crawler/recorder.py). Only a stored batch
ends its pages' leases; a thread keeps the leases of the pages held here alive meanwhile
(crawler/renewal.py). While the spool is at LINKGRAPH_SPOOL_MAX_BYTES the engine is paused:
nothing more is fetched until it has room. A spool left by a dead process is stored first by the
next run.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING

from scrapy import signals

from crawler import jobs
from crawler.frontier import Frontier, fingerprint, frontier_for
from crawler.handoff import HANDOFF_URI
from crawler.items import PageItem
from crawler.recorder import Recorder
from crawler.renewal import LeaseRenewal
from crawler.rows import rows_of
from crawler.sinks import Sink, open_sink
from crawler.spool import Spool
from crawler.storage import StorageTarget
from crawler.stream_consumer import StreamConsumer
from pipelines.row_batcher import RowBatcher
from pipelines.row_writer import RowWriter

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)


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
        spool_dir: Path,
        spool_max_bytes: int,
    ) -> None:
        self.crawler = crawler
        self.target = target
        self.frontier = frontier
        self.handoff = handoff
        self.workers_wait = workers_wait
        self.spool_dir = spool_dir
        self.spool_max_bytes = spool_max_bytes
        self.sink: Sink | None = None
        self.recorder: Recorder | None = None
        # The owner of an embedded index also inserts what other workers hand over.
        self.consumer: StreamConsumer | None = None
        self.writer = RowWriter(crawler)
        self.batcher = RowBatcher(
            crawler, self.writer, batch_rows=batch_rows, batch_seconds=batch_seconds
        )
        self._renewal: LeaseRenewal | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ClickHousePipeline:
        s = crawler.settings
        target = StorageTarget(
            s["LINKGRAPH_CLICKHOUSE_URL"], Path(s["LINKGRAPH_DATA_DIR"]), s["LINKGRAPH_DATABASE"]
        )
        pipeline = cls(
            crawler,
            target,
            frontier_for(crawler),
            batch_rows=s.getint("LINKGRAPH_BATCH_ROWS"),
            batch_seconds=s.getfloat("LINKGRAPH_BATCH_SECONDS"),
            handoff=s.getbool("LINKGRAPH_HANDOFF"),
            workers_wait=s.getfloat("LINKGRAPH_WORKERS_WAIT"),
            spool_dir=Path(s["LINKGRAPH_SPOOL_DIR"] or Path(s["LINKGRAPH_DATA_DIR"]) / "spool"),
            spool_max_bytes=s.getint("LINKGRAPH_SPOOL_MAX_BYTES"),
        )
        # Connected after Scrapy's CoreStats, so this runs after it has set the finish reason.
        crawler.signals.connect(pipeline._spider_closed, signal=signals.spider_closed)
        return pipeline

    def open_spider(self) -> None:
        self.sink = open_sink(HANDOFF_URI if self.handoff else self.target.uri, self.crawler)
        where = "the coordinator (through Redis)" if self.handoff else self.target.describe()
        spool = Spool.open(self.spool_dir, self.frontier.job, self.spool_max_bytes)
        self.recorder = recorder = Recorder(self.sink, spool, self.frontier, where)
        if recorder.take_back():
            recorder.replay()  # before any new row, and before anything is fetched
        if self.target.embedded and not self.handoff:
            f = self.frontier
            self.consumer = StreamConsumer(f.client, f.keys.rows, self.sink, f, recorder.record)
        self._renewal = LeaseRenewal(recorder, self.frontier.lease_seconds)
        self._renewal.start()
        self.batcher.start(recorder, self.consumer)

    def close_spider(self) -> None:
        writer = self.writer
        writer.closing = True
        self.batcher.stop()
        try:
            self.batcher.flush()
            writer.wait()
            if self.consumer is not None and not writer.failed:
                self._wait_for_workers(self.consumer)
            if not writer.failed and self.recorder is not None and len(self.recorder.spool):
                writer.submit(self.recorder.replay)  # one last try
                writer.wait()
        finally:
            writer.shutdown()
            self._release()

    def _release(self) -> None:
        if self._renewal is not None:
            self._renewal.stop()
        if self.recorder is not None:
            spool = self.recorder.spool
            if len(spool):
                logger.warning(
                    "%d batches of rows stay in the spool %s, their pages leased: the next run "
                    "on this data dir stores them first",
                    len(spool),
                    spool.directory,
                )
            spool.close()
        if self.sink is not None:
            self.sink.close()

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
        page, links = rows_of(item)
        self.batcher.add(page, links, fingerprint(item.url))
        stats = self.crawler.stats
        if stats is not None:
            stats.inc_value("linkgraph/pages")
            stats.inc_value("linkgraph/links", len(links))
        if self.batcher.full:
            self.batcher.flush()
        return item

    def _spider_closed(self, reason: str) -> None:
        """A failure seen while closing (the last batches) still makes the crawl unfinished."""
        stats = self.crawler.stats
        if self.writer.failed and stats is not None and reason == "finished":
            stats.set_value("finish_reason", self.writer.failed)
