"""The scheduler: scrapy-redis's, with the frontier's own queue and dupefilter, and a clock.

The queue and the dupefilter only work over the frontier, and a job's frontier outlives every
crawl of it, so neither is chosen by a setting and nothing is flushed on close
(SCHEDULER_QUEUE_CLASS, DUPEFILTER_CLASS and SCHEDULER_PERSIST are not read).

Scrapy asks the scheduler for requests when a download ends, and otherwise only on a 5-second
heartbeat. When every queued host is waiting out its politeness delay we know exactly when the
next one is due, so we wake the engine then instead of idling until the heartbeat.

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
from typing import TYPE_CHECKING, Any, cast

import redis
from scrapy import signals
from scrapy.exceptions import CloseSpider
from scrapy.utils.defer import deferred_from_coro
from scrapy_redis.scheduler import Scheduler
from twisted.internet import task

from crawler import jobs
from crawler.failures import FRONTIER_ERROR, note_frontier_error, stop_for_frontier_error
from crawler.frontier import fingerprint, frontier_for
from crawler.frontier.dupefilter import FingerprintDupeFilter
from crawler.frontier.heartbeat import Heartbeat
from crawler.frontier.prefetch import frontier_thread_for
from crawler.frontier.queue import HostQueue

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler
    from twisted.python.failure import Failure

    from crawler.frontier import Entry, Frontier
    from crawler.frontier.prefetch import FrontierThread

logger = logging.getLogger(__name__)

# Never sleep longer than this between looks at the frontier: another worker (or this one's
# pipeline) may queue a host that is due sooner.
MAX_WAKE_INTERVAL = 0.5
# How often the job's state (running, paused, stopped) is read, and poisoned URLs looked for.
STATE_SECONDS = 1.0
# Poisoned URLs taken at a time, to be recorded.
POISONED_BATCH = 16


class FrontierScheduler(Scheduler):
    queue: HostQueue

    def __init__(self, frontier: Frontier, crawler: Crawler, *, return_leases: bool) -> None:
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
        self._wake_call: Any = None
        self.heartbeat = Heartbeat(frontier, self.worker_id)
        self._state = (0.0, jobs.RUNNING)
        self._stopping = False
        self._poisoned: list[tuple[Entry, int]] = []
        self._poison_read_at = 0.0
        # The job's state is also read on a clock: while the engine is paused (a full spool),
        # next_request is not called, and a stopped job must still be noticed (and the frontier
        # thread's buffer given back).
        self._state_loop = task.LoopingCall(self._watch_state)
        self.prefetch: FrontierThread | None = None  # LINKGRAPH_FRONTIER_THREAD's (prefetch.py)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> FrontierScheduler:
        scheduler = cls(
            frontier_for(crawler),
            crawler,
            return_leases=crawler.settings.getbool("LINKGRAPH_RETURN_LEASES_AT_START"),
        )
        scheduler.prefetch = frontier_thread_for(crawler)
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
        self._state_loop.start(STATE_SECONDS, now=False)
        if self.prefetch is not None:  # after the leases of a previous run are returned
            self.prefetch.start(self.worker_id)

    def close(self, reason: str) -> None:
        if self._state_loop.running:
            self._state_loop.stop()
        if self._wake_call is not None and self._wake_call.active():
            self._wake_call.cancel()
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
            return self._enqueue(request)
        except redis.RedisError as exc:
            stop_for_frontier_error(self.crawler, exc)
            return False

    def _enqueue(self, request: Request) -> bool:
        """Queue a request that Scrapy hands over: a seed, or one a component rescheduled.

        The frontier's add checks and marks a URL as seen in one step, and queues each URL once
        per job. `dont_filter=True` skips the dupefilter's check, and a request whose entry the
        frontier handed out (it holds a lease) goes back to the head of its host queue rather
        than being filtered as seen."""
        entry = request.meta.get("lg_entry")
        if request.dont_filter:
            if entry is not None and self.frontier.return_leases([entry]):
                return True
        elif self.prefetch is not None:
            # A seed, queued from the frontier thread with what comes next: the add dedupes it.
            # (So it is reported queued even when seen: nothing reads that but Scrapy's signal.)
            depth = int(request.meta.get("depth", 0))
            failed = lambda exc: stop_for_frontier_error(self.crawler, exc)  # noqa: E731
            self.prefetch.add([(request.url, depth)], done=lambda: None, failed=failed)
            return True
        elif self.df.request_seen(request):
            return False
        return self.queue.push(request) > 0

    def job_state(self) -> str:
        read_at, state = self._state
        if time.monotonic() - read_at > STATE_SECONDS:
            state = jobs.state(self.frontier.client, self.frontier.job)
            self._state = (time.monotonic(), state)
            if self.prefetch is not None and state != jobs.RUNNING:
                self.prefetch.set_popping(False)  # lease nothing ahead for a job not running
                self.prefetch.give_back()
        if state == jobs.STOPPED and not self._stopping:
            self._stopping = True
            logger.warning("Job %s stopped: finishing requests in flight", self.frontier.job)
            deferred_from_coro(self.crawler.stop_async())
        return state

    def _watch_state(self) -> None:
        # A LoopingCall stops at its first error: this one must outlive them.
        try:
            self.job_state()
            self._give_back_while_paused()
        except redis.RedisError as exc:
            stop_for_frontier_error(self.crawler, exc)
        except Exception as exc:
            logger.warning("job state not read (%s: %s)", type(exc).__name__, exc)

    def _give_back_while_paused(self) -> None:
        """An engine paused for a full spool takes nothing, for as long as the index is down:
        the frontier thread's buffered requests go back to their queues at once, for other
        workers, and nothing is leased ahead until the engine asks again (next_request)."""
        engine = self.crawler.engine
        if self.prefetch is None or engine is None or not engine.paused:
            return
        if self.prefetch.popping:
            self.prefetch.set_popping(False)
            self.prefetch.give_back()

    def next_request(self) -> Request | None:
        try:
            return self._next_request()
        except redis.RedisError as exc:
            stop_for_frontier_error(self.crawler, exc)
            return None

    def _next_request(self) -> Request | None:
        if self.job_state() != jobs.RUNNING:
            self._wake_at(time.time() + MAX_WAKE_INTERVAL)  # paused: look again soon
            return None
        poisoned = self._next_poisoned()
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
            self._wake_at(next_due or time.time() + MAX_WAKE_INTERVAL)
        return request

    def _next_poisoned(self) -> Request | None:
        """A poisoned URL taken to be recorded with its reason, if any is waiting."""
        if not self._poisoned and time.monotonic() - self._poison_read_at > STATE_SECONDS:
            self._poison_read_at = time.monotonic()
            self._poisoned = self.frontier.take_poisoned(self.worker_id, POISONED_BATCH)
        if not self._poisoned:
            return None
        entry, lost = self._poisoned.pop()
        logger.warning("%s is poison: its worker died or hung %d times", entry.url, lost)
        request: Request = self.spider.request_for(entry)
        request.meta["lg_poison"] = f"poison: its worker died or hung {lost} times"
        return request

    def has_pending_requests(self) -> bool:
        try:
            if self.job_state() == jobs.PAUSED:
                return True  # stay up, fetching nothing, until resumed
            if self.prefetch is not None and self.prefetch.busy():
                return True  # requests buffered, or releases and links not yet sent
            return self.frontier.has_work() or bool(self._poisoned)
        except redis.RedisError as exc:
            stop_for_frontier_error(self.crawler, exc)
            return True  # closing with the error's reason, not as finished

    def _wake_at(self, due: float) -> None:
        from twisted.internet import reactor

        wait = min(max(due - time.time(), 0.0), MAX_WAKE_INTERVAL)
        call = self._wake_call
        if call is not None and call.active():
            if call.getTime() - time.time() <= wait:
                return  # an earlier wake-up is already set
            call.cancel()
        self._wake_call = cast(Any, reactor).callLater(wait, self._wake)

    def _wake(self) -> None:
        slot = getattr(self.crawler.engine, "_slot", None)
        if slot is not None:
            slot.nextcall.schedule()
