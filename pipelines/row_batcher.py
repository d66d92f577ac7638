"""When rows go to the index: batches by size and age, spool replays, the hand-off stream.

Items add their rows to a batch; a batch goes to the writer thread (row_writer.py) once it has
LINKGRAPH_BATCH_ROWS links or a tenth of that in pages, or is LINKGRAPH_BATCH_SECONDS old. A
tick on the reactor ages batches and, while the writer is idle, gives it the next job: a replay
of the spool when one is due, else the rows other workers handed over. While the spool is full
the engine is paused, so nothing more is fetched until the index takes rows again.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from twisted.internet import task

from crawler.rows import Batch, LinkRow, PageRow
from crawler.spool import Spool
from pipelines.row_writer import RowWriter

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

    from crawler.recorder import Recorder
    from crawler.stream_consumer import StreamConsumer

logger = logging.getLogger(__name__)

TICK_SECONDS = 0.5


class RowBatcher:
    """Buffers rows into batches and decides what the writer thread does next."""

    def __init__(
        self, crawler: Crawler, writer: RowWriter, *, batch_rows: int, batch_seconds: float
    ) -> None:
        self.crawler = crawler
        self.writer = writer
        self.batch_rows = batch_rows
        self.batch_seconds = batch_seconds
        self.recorder: Recorder | None = None  # both given by start(), once the spider opens
        self.consumer: StreamConsumer | None = None
        self._batch = Batch()
        self._since = time.monotonic()
        self._ticker: task.LoopingCall | None = None
        self._paused = False  # by us, for a full spool

    def start(self, recorder: Recorder, consumer: StreamConsumer | None) -> None:
        self.recorder = recorder
        self.consumer = consumer
        self._ticker = task.LoopingCall(self._tick)
        self._ticker.start(TICK_SECONDS, now=False)

    def stop(self) -> None:
        if self._ticker is not None and self._ticker.running:
            self._ticker.stop()

    def add(self, page: PageRow, links: list[LinkRow], fp: str) -> None:
        self._batch.add(page, links, fp)
        if self.recorder is not None:
            self.recorder.held.add((fp,))

    @property
    def full(self) -> bool:
        batch = self._batch
        return len(batch.links) >= self.batch_rows or len(batch.pages) >= self.batch_rows // 10

    def flush(self) -> None:
        """Hand the buffered rows to the writer thread (waiting for the previous batch)."""
        self._since = time.monotonic()
        if not self._batch.pages:
            return
        self.writer.wait()
        if self.writer.failed:
            return  # stopping: these pages stay leased, and are fetched again on resume
        batch, self._batch = self._batch, Batch()
        self.writer.submit(self._write, batch)

    def _tick(self) -> None:
        # A LoopingCall stops at its first error: a failed tick must not end the writing.
        try:
            self._step()
        except Exception as exc:
            logger.warning("row writer tick skipped (%s: %s)", type(exc).__name__, exc)

    def _step(self) -> None:
        writer = self.writer
        writer.check_done()
        if writer.failed:
            return  # stopping: what is not recorded stays leased, for the next run
        recorder = self.recorder
        assert recorder is not None
        self._backpressure(recorder.spool)
        if self._batch.pages and time.monotonic() - self._since >= self.batch_seconds:
            self.flush()
        elif writer.busy:
            return
        elif recorder.replay_due():
            writer.submit(recorder.replay)
        elif self.consumer is not None and not recorder.spool.full:
            writer.submit(self._drain, self.consumer)

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

    def _write(self, batch: Batch) -> None:
        assert self.recorder is not None
        self.recorder.record(batch)
