"""The one thread that records rows for the ClickHouse pipeline, and what a failed write means.

One thread, and at most one job on it at a time (a batch, a spool replay, a drain of the hand-off
stream): the crawl keeps fetching while a batch is written, and memory stays bounded. The index's
own failures never get here (the recorder spools them, crawler/recorder.py); what does is a
failing frontier or spool disk, and either stops the crawl, said once in one line. Pages whose
rows were not recorded stay leased, so the next run of the job fetches them again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import redis
from scrapy.utils.defer import deferred_from_coro

from crawler.failures import FRONTIER_ERROR, stop_for_frontier_error
from crawler.storage import first_line

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

STORAGE_ERROR = "storage_error"  # the finish reason of a crawl whose rows could not be recorded


class RowWriter:
    """Runs write jobs one at a time on a background thread; a failure stops the crawl."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="clickhouse")
        self._pending: Future[None] | None = None
        self.failed = ""  # why rows could not be recorded: the crawl stops, never "finished"
        self.closing = False  # the spider is being closed (by us, or for any reason)

    @property
    def busy(self) -> bool:
        """A job was handed over and its outcome is not yet checked."""
        return self._pending is not None

    def submit(self, job: Callable[..., None], *args: Any) -> None:
        self._pending = self._executor.submit(job, *args)

    def check_done(self) -> None:
        """Take the outcome of the job in flight if it has finished; never blocks."""
        if self._pending is not None and self._pending.done():
            self._check(self._pending)

    def wait(self) -> None:
        """Block until the job in flight has finished, then take its outcome."""
        if self._pending is not None:
            self._pending.exception()  # block until done
            self._check(self._pending)

    def shutdown(self) -> None:
        self._executor.shutdown()

    def _check(self, future: Future[None]) -> None:
        self._pending = None if future is self._pending else self._pending
        exc = future.exception()
        if exc is None:
            return
        # Not the index (its failures are spooled): the frontier or the spool's own disk.
        if isinstance(exc, redis.RedisError):
            self.failed = FRONTIER_ERROR
            stop_for_frontier_error(self.crawler, exc)  # said once for the whole worker
            return
        if not self.failed:  # said once, in one line, however many batches fail
            logger.error(
                "cannot record rows: %s: %s; stopping the crawl (pages not recorded stay leased "
                "and are fetched again when the job resumes)",
                type(exc).__name__,
                first_line(str(exc)),
            )
        self.failed = STORAGE_ERROR
        engine = self.crawler.engine
        if engine is not None and engine.spider is not None and not self.closing:
            self.closing = True
            deferred_from_coro(engine.close_spider_async(reason=STORAGE_ERROR))
