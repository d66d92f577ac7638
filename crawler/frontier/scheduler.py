"""The scheduler: scrapy-redis's, with our queue and dupefilter, and a clock.

Scrapy asks the scheduler for requests when a download ends, and otherwise only on a 5-second
heartbeat. When every queued host is waiting out its politeness delay we know exactly when the
next one is due, so we wake the engine then instead of idling until the heartbeat.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from typing import TYPE_CHECKING, Any, cast

from scrapy_redis.scheduler import Scheduler
from twisted.internet import task

from crawler import jobs
from crawler.frontier import frontier_for
from crawler.frontier.dupefilter import FingerprintDupeFilter
from crawler.frontier.queue import HostQueue

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler

    from crawler.frontier import Frontier

logger = logging.getLogger(__name__)

# Never sleep longer than this between looks at the frontier: another worker (or this one's
# pipeline) may queue a host that is due sooner.
MAX_WAKE_INTERVAL = 0.5
# How often a worker says it is alive and returns leases that ran out (any worker's).
HEARTBEAT_SECONDS = 5.0
# How often the job's state (running, paused, stopped) is read.
STATE_SECONDS = 1.0


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
        self._heartbeat = task.LoopingCall(self._beat)
        self._state = (0.0, jobs.RUNNING)
        self._stopping = False

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> FrontierScheduler:
        return cls(
            frontier_for(crawler),
            crawler,
            return_leases=crawler.settings.getbool("LINKGRAPH_RETURN_LEASES_AT_START"),
        )

    def open(self, spider: Any) -> None:
        self.spider = spider
        self.queue = HostQueue(self.frontier, spider)
        others = self.frontier.heartbeat(self.worker_id)
        if self.return_leases and others == 0:
            # No other worker is alive: whatever is still leased was in flight when a previous
            # run stopped, and was never recorded.
            returned = self.frontier.return_leases()
            if returned:
                logger.info("Returned %d unfinished requests to the frontier", returned)
        self._heartbeat.start(HEARTBEAT_SECONDS, now=False)

    def close(self, reason: str) -> None:
        if self._wake_call is not None and self._wake_call.active():
            self._wake_call.cancel()
        if self._heartbeat.running:
            self._heartbeat.stop()
        self.frontier.leave(self.worker_id)

    def _beat(self) -> None:
        self.frontier.heartbeat(self.worker_id)
        reaped = self.frontier.reap()
        if reaped:
            logger.warning("Returned %d requests whose lease ran out to the frontier", reaped)

    def enqueue_request(self, request: Request) -> bool:
        if self.df.request_seen(request):
            return False
        self.queue.push(request)
        return True

    def job_state(self) -> str:
        read_at, state = self._state
        if time.monotonic() - read_at > STATE_SECONDS:
            state = jobs.state(self.frontier.client, self.frontier.job)
            self._state = (time.monotonic(), state)
        if state == jobs.STOPPED and not self._stopping:
            self._stopping = True
            logger.warning("Job %s stopped: finishing requests in flight", self.frontier.job)
            self.crawler.stop()
        return state

    def next_request(self) -> Request | None:
        if self.job_state() != jobs.RUNNING:
            self._wake_at(time.time() + MAX_WAKE_INTERVAL)  # paused: look again soon
            return None
        request = self.queue.pop()
        if request is not None:
            self.stats.inc_value("scheduler/dequeued/redis")
        else:
            # Nothing due: look again when the next host is due, or soon if the work left is
            # only in flight (its page may still queue links).
            self._wake_at(self.queue.next_due or time.time() + MAX_WAKE_INTERVAL)
        return request

    def has_pending_requests(self) -> bool:
        if self.job_state() == jobs.PAUSED:
            return True  # stay up, fetching nothing, until resumed
        return self.frontier.has_work()

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
