"""Records pages and links in the index, in batches; their frontier leases end only once stored.

Rows (crawler/rows.py) are buffered and handed to a sink by one background thread, so the crawl
keeps fetching meanwhile; at most one batch is in flight, so memory stays bounded. The sink is the
index (chDB or a ClickHouse server), or, for a worker of a job whose index is embedded in another
process, the hand-off stream to that process (crawler/sinks.py chooses by URL scheme).

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
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import redis
from scrapy import signals
from scrapy.utils.defer import deferred_from_coro
from twisted.internet import task

from crawler import jobs
from crawler.failures import FRONTIER_ERROR, stop_for_frontier_error
from crawler.frontier import Frontier, fingerprint, frontier_for
from crawler.handoff import HANDOFF_URI
from crawler.items import PageItem
from crawler.recorder import Recorder
from crawler.renewal import LeaseRenewal
from crawler.rows import Batch, rows_of
from crawler.sinks import Sink, open_sink
from crawler.spool import Spool
from crawler.storage import StorageTarget, first_line
from crawler.stream_consumer import StreamConsumer

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

TICK_SECONDS = 0.5
STORAGE_ERROR = "storage_error"  # the finish reason of a crawl whose rows could not be recorded


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
        self.batch_rows = batch_rows
        self.batch_seconds = batch_seconds
        self.handoff = handoff
        self.workers_wait = workers_wait
        self.spool_dir = spool_dir
        self.spool_max_bytes = spool_max_bytes
        self.sink: Sink | None = None
        self.recorder: Recorder | None = None
        # The owner of an embedded index also inserts what other workers hand over.
        self.consumer: StreamConsumer | None = None
        self._batch = Batch()
        self._since = time.monotonic()
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="clickhouse")
        self._pending: Future[None] | None = None
        self._ticker: task.LoopingCall | None = None
        self._paused = False  # by us, for a full spool
        self._renewal: LeaseRenewal | None = None
        self._failed = ""  # why rows could not be recorded: the crawl stops, never "finished"
        self._closing = False  # the spider is being closed (by us, or for any reason)

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
        self._ticker = task.LoopingCall(self._tick)
        self._ticker.start(TICK_SECONDS, now=False)

    def close_spider(self) -> None:
        self._closing = True
        if self._ticker is not None and self._ticker.running:
            self._ticker.stop()
        try:
            self.flush()
            self._wait()
            if self.consumer is not None and not self._failed:
                self._wait_for_workers(self.consumer)
            if not self._failed and self.recorder is not None and len(self.recorder.spool):
                self._pending = self._writer.submit(self.recorder.replay)  # one last try
                self._wait()
        finally:
            self._writer.shutdown()
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
        batch = self._batch
        fp = fingerprint(item.url)
        batch.add(page, links, fp)
        if self.recorder is not None:
            self.recorder.held.add((fp,))
        stats = self.crawler.stats
        if stats is not None:
            stats.inc_value("linkgraph/pages")
            stats.inc_value("linkgraph/links", len(links))
        if len(batch.links) >= self.batch_rows or len(batch.pages) >= self.batch_rows // 10:
            self.flush()
        return item

    def _tick(self) -> None:
        # A LoopingCall stops at its first error: a failed tick must not end the writing.
        try:
            self._step()
        except Exception as exc:
            logger.warning("row writer tick skipped (%s: %s)", type(exc).__name__, exc)

    def _step(self) -> None:
        if self._pending is not None and self._pending.done():
            self._check(self._pending)
        if self._failed:
            return  # stopping: what is not recorded stays leased, for the next run
        recorder = self.recorder
        assert recorder is not None
        self._backpressure(recorder.spool)
        if self._batch.pages and time.monotonic() - self._since >= self.batch_seconds:
            self.flush()
        elif self._pending is not None:
            return
        elif recorder.replay_due():
            self._pending = self._writer.submit(recorder.replay)
        elif self.consumer is not None and not recorder.spool.full:
            self._pending = self._writer.submit(self._drain, self.consumer)

    def _backpressure(self, spool: Spool) -> None:
        """Stop fetching while the spool is full; fetch again once it has room."""
        engine = self.crawler.engine
        if engine is None or spool.full == self._paused:
            return
        self._paused = spool.full
        if self._paused:
            engine.pause()
            logger.warning(
                "the spool %s is full (%d MiB): fetching paused until the index takes rows",
                spool.directory,
                spool.bytes >> 20,
            )
        else:
            engine.unpause()
            logger.warning("the spool has room again: fetching resumed")
            slot = getattr(engine, "_slot", None)
            if slot is not None:
                slot.nextcall.schedule()

    @staticmethod
    def _drain(consumer: StreamConsumer) -> None:
        while consumer.drain(block_ms=None):
            pass

    def flush(self) -> None:
        """Hand the buffered rows to the writer thread (waiting for the previous batch)."""
        self._since = time.monotonic()
        if not self._batch.pages:
            return
        self._wait()
        if self._failed:
            return  # stopping: these pages stay leased, and are fetched again on resume
        batch, self._batch = self._batch, Batch()
        self._pending = self._writer.submit(self._write, batch)

    def _wait(self) -> None:
        if self._pending is not None:
            self._pending.exception()  # block until done
            self._check(self._pending)

    def _check(self, future: Future[None]) -> None:
        self._pending = None if future is self._pending else self._pending
        exc = future.exception()
        if exc is None:
            return
        # Not the index (its failures are spooled): the frontier or the spool's own disk.
        if isinstance(exc, redis.RedisError):
            self._failed = FRONTIER_ERROR
            stop_for_frontier_error(self.crawler, exc)  # said once for the whole worker
            return
        if not self._failed:  # said once, in one line, however many batches fail
            logger.error(
                "cannot record rows: %s: %s; stopping the crawl (pages not recorded stay leased "
                "and are fetched again when the job resumes)",
                type(exc).__name__,
                first_line(str(exc)),
            )
        self._failed = STORAGE_ERROR
        engine = self.crawler.engine
        if engine is not None and engine.spider is not None and not self._closing:
            self._closing = True
            deferred_from_coro(engine.close_spider_async(reason=STORAGE_ERROR))

    def _spider_closed(self, reason: str) -> None:
        """A failure seen while closing (the last batches) still makes the crawl unfinished."""
        stats = self.crawler.stats
        if self._failed and stats is not None and reason == "finished":
            stats.set_value("finish_reason", self._failed)

    def _write(self, batch: Batch) -> None:
        assert self.recorder is not None
        self.recorder.record(batch)
