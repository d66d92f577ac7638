"""The scheduler: scrapy-redis's, with our queue and dupefilter, and a clock.

Scrapy asks the scheduler for requests when a download ends, and otherwise only on a 5-second
heartbeat. When every queued host is waiting out its politeness delay we know exactly when the
next one is due, so we wake the engine then instead of idling until the heartbeat.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from scrapy_redis.scheduler import Scheduler

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


class FrontierScheduler(Scheduler):  # type: ignore[misc]
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
        self._wake_call: Any = None

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
        if self.return_leases:
            # We are the job's only worker: whatever is still leased was in flight when a
            # previous run stopped, and was never recorded.
            returned = self.frontier.return_leases()
            if returned:
                logger.info("Returned %d unfinished requests to the frontier", returned)

    def close(self, reason: str) -> None:
        if self._wake_call is not None and self._wake_call.active():
            self._wake_call.cancel()

    def enqueue_request(self, request: Request) -> bool:
        if self.df.request_seen(request):
            return False
        self.queue.push(request)
        return True

    def next_request(self) -> Request | None:
        request = self.queue.pop()
        if request is not None:
            self.stats.inc_value("scheduler/dequeued/redis")
        elif self.queue.next_due is not None:
            self._wake_at(self.queue.next_due)
        return request

    def has_pending_requests(self) -> bool:
        return bool(self.queue._ready) or self.frontier.has_work()

    def _wake_at(self, due: float) -> None:
        from twisted.internet import reactor

        if self._wake_call is not None and self._wake_call.active():
            return
        wait = min(max(due - time.time(), 0.0), MAX_WAKE_INTERVAL)
        self._wake_call = reactor.callLater(wait, self._wake)  # type: ignore[attr-defined]

    def _wake(self) -> None:
        slot = getattr(self.crawler.engine, "_slot", None)
        if slot is not None:
            slot.nextcall.schedule()

