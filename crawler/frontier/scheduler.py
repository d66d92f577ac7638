"""The scheduler: scrapy-redis's, with the frontier's own queue and dupefilter, and a clock.

The queue and the dupefilter only work over the frontier, and a job's frontier outlives every
crawl of it, so neither is chosen by a setting and nothing is flushed on close
(SCHEDULER_QUEUE_CLASS, DUPEFILTER_CLASS and SCHEDULER_PERSIST are not read).

This module is its lifecycle (open, close, the items' signals) and Scrapy's questions to it;
its parts live beside it: what it does with the requests it is handed (intake.py), the job's
state on a clock (job_watch.py), poisoned URLs (poisoned.py), and waking the engine when the
next host is due instead of idling until Scrapy's heartbeat (wakeup.py).

The leases it takes are this worker's: its heartbeat (heartbeat.py) keeps them, and returns
those of dead workers. A URL whose lease was lost too often is poison: the scheduler hands it
out marked, to be recorded with the reason (PolitenessMiddleware), never fetched. A Redis error
stops the worker (crawler.failures.stop_for_frontier_error): it never becomes page data.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import time
import uuid
from typing import TYPE_CHECKING, Any

import redis
from scrapy import signals
from scrapy.exceptions import CloseSpider
from scrapy_redis.scheduler import Scheduler

from crawler import jobs
from crawler.failures import FRONTIER_ERROR, note_frontier_error, stop_for_frontier_error
from crawler.frontier import fingerprint, frontier_for, intake
from crawler.frontier.dupefilter import FingerprintDupeFilter
from crawler.frontier.heartbeat import Heartbeat
from crawler.frontier.job_watch import JobWatch
from crawler.frontier.poisoned import PoisonedRequests
from crawler.frontier.prefetch import frontier_thread_for
from crawler.frontier.queue import HostQueue
from crawler.frontier.wakeup import MAX_WAKE_INTERVAL, EngineWakeUp

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler
    from twisted.python.failure import Failure

    from crawler.frontier import Frontier
    from crawler.frontier.prefetch import FrontierThread

logger = logging.getLogger(__name__)


class FrontierScheduler(Scheduler):
    queue: HostQueue

    def __init__(
        self,
        frontier: Frontier,
        crawler: Crawler,
        *,
        return_leases: bool,
        prefetch: FrontierThread | None = None,  # LINKGRAPH_FRONTIER_THREAD's (prefetch.py)
    ) -> None:
        super().__init__(
            server=frontier.client,
            persist=True,
            queue_key=frontier.keys.base,
            queue_cls="crawler.frontier.queue.HostQueue",
            dupefilter=FingerprintDupeFilter(frontier),
        )
        self.frontier = frontier
        self.crawler = crawler
        self.return_leases = return_leases
        self.stats = crawler.stats
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.prefetch = prefetch
        self.heartbeat = Heartbeat(frontier, self.worker_id)
        self.job_watch = JobWatch(frontier, crawler, prefetch)
        self.poisoned = PoisonedRequests(frontier, self.worker_id)
        self.wake_up = EngineWakeUp(crawler)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> FrontierScheduler:
        scheduler = cls(
            frontier_for(crawler),
            crawler,
            return_leases=crawler.settings.getbool("LINKGRAPH_RETURN_LEASES_AT_START"),
            prefetch=frontier_thread_for(crawler),
        )
        crawler.signals.connect(scheduler.item_error, signal=signals.item_error)
        crawler.signals.connect(scheduler.item_done, signal=signals.item_scraped)
        crawler.signals.connect(scheduler.item_done, signal=signals.item_dropped)
        return scheduler

    def open(self, spider: Any) -> None:
        self.spider = spider
        self.queue = HostQueue(self.frontier, spider, self.worker_id)
        try:
            others = self.heartbeat.start()
            if self.return_leases and others == 0:
                # No other worker is alive: whatever is still leased was in flight when a
                # previous run stopped, and was never recorded.
                returned = self.frontier.return_leases()
                if returned:
                    logger.info("Returned %d unfinished requests to the frontier", returned)
        except redis.RedisError as exc:
            # Redis answered the start's checks, then failed: the crawl ends before it began,
            # in one line, as Scrapy ends one whose component asks to be closed as it opens.
            note_frontier_error(self.crawler, exc)
            raise CloseSpider(FRONTIER_ERROR) from exc
        self.job_watch.start()
        if self.prefetch is not None:  # after the leases of a previous run are returned
            self.prefetch.start(self.worker_id)

    def close(self, reason: str) -> None:
        self.job_watch.stop()
        self.wake_up.cancel()
        if self.prefetch is not None:
            unstarted = self.prefetch.stop()
            with contextlib.suppress(redis.RedisError):
                self.frontier.return_leases(unstarted)
        self.heartbeat.stop()
        # If Redis fails now, its heartbeat lapses instead; the error was reported already.
        with contextlib.suppress(redis.RedisError):
            self.frontier.leave(self.worker_id)

    def item_error(self, item: Any, failure: Failure) -> None:
        """item_error handler: a pipeline's frontier call failed (queueing a page's links)."""
        if failure.check(redis.RedisError):
            stop_for_frontier_error(self.crawler, failure.value)
        else:
            self.item_done(item)

    def item_done(self, item: Any) -> None:
        """item_scraped/item_dropped handler: the page is fetched and parsed, so should this
        worker die before its rows are stored, the page is not the one that killed it."""
        url = getattr(item, "url", None)
        if isinstance(url, str) and self.prefetch is not None:
            self.prefetch.mark_done([fingerprint(url)])
        elif isinstance(url, str):
            try:
                self.frontier.mark_done(self.worker_id, [fingerprint(url)])
            except redis.RedisError as exc:
                stop_for_frontier_error(self.crawler, exc)

    def enqueue_request(self, request: Request) -> bool:
        try:
            return intake.enqueue(
                request,
                frontier=self.frontier,
                queue=self.queue,
                dupefilter=self.df,
                prefetch=self.prefetch,
                crawler=self.crawler,
            )
        except redis.RedisError as exc:
            stop_for_frontier_error(self.crawler, exc)
            return False

    def next_request(self) -> Request | None:
        try:
            return self._next_request()
        except redis.RedisError as exc:
            stop_for_frontier_error(self.crawler, exc)
            return None

    def _next_request(self) -> Request | None:
        if self.job_watch.state() != jobs.RUNNING:
            self.wake_up.at(time.time() + MAX_WAKE_INTERVAL)  # paused: look again soon
            return None
        poisoned = self.poisoned.next(self.spider)
        if poisoned is not None:
            return poisoned
        if self.prefetch is not None:
            if not self.prefetch.popping:
                self.prefetch.set_popping(True)
            entry = self.prefetch.take()
            request = None if entry is None else self.spider.request_for(entry)
            next_due = self.prefetch.next_due
        else:
            request = self.queue.pop()
            next_due = self.queue.next_due
        if request is not None:
            self.stats.inc_value("scheduler/dequeued/redis")
        else:
            # Nothing due: look again when the next host is due, or soon if the work left is
            # only in flight (its page may still queue links).
            self.wake_up.at(next_due or time.time() + MAX_WAKE_INTERVAL)
        return request

    def has_pending_requests(self) -> bool:
        try:
            if self.job_watch.state() == jobs.PAUSED:
                return True  # stay up, fetching nothing, until resumed
            if self.prefetch is not None and self.prefetch.busy():
                return True  # requests buffered, or releases and links not yet sent
            return self.frontier.has_work() or self.poisoned.waiting
        except redis.RedisError as exc:
            stop_for_frontier_error(self.crawler, exc)
            return True  # closing with the error's reason, not as finished
