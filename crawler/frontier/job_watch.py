"""The job's state (running, paused, stopped) as a worker's scheduler sees it.

It is read at most every STATE_SECONDS when the scheduler asks, and also on a clock: while the
engine is paused (a full spool), next_request is not called, and a stopped job must still be
noticed (and the frontier thread's buffer given back).
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

import redis
from scrapy.utils.defer import deferred_from_coro
from twisted.internet import task

from crawler import jobs
from crawler.failures import stop_for_frontier_error

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

    from crawler.frontier import Frontier
    from crawler.frontier.prefetch import FrontierThread

# Its lines are the scheduler's: operators read and filter them under that name.
logger = logging.getLogger("crawler.frontier.scheduler")

# How often the job's state (running, paused, stopped) is read, and poisoned URLs looked for.
STATE_SECONDS = 1.0


class JobWatch:
    """What the scheduler knows of its job's state, and what it does when that changes."""

    def __init__(
        self, frontier: Frontier, crawler: Crawler, prefetch: FrontierThread | None
    ) -> None:
        self.frontier = frontier
        self.crawler = crawler
        self.prefetch = prefetch
        self._state = (0.0, jobs.RUNNING)
        self._stopping = False
        self._loop = task.LoopingCall(self._watch)

    def start(self) -> None:
        self._loop.start(STATE_SECONDS, now=False)

    def stop(self) -> None:
        if self._loop.running:
            self._loop.stop()

    def state(self) -> str:
        """The job's state, read again when older than STATE_SECONDS; a stopped job stops the
        crawl (requests in flight finish), and one not running leases nothing ahead."""
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

    def _watch(self) -> None:
        # A LoopingCall stops at its first error: this one must outlive them.
        try:
            self.state()
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
