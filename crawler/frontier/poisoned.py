"""Poisoned URLs handed out to be recorded, never fetched.

A URL whose lease was lost too often (its worker died or hung: reaping.py) is poison. The
scheduler takes a few at a time, leased to its worker, and hands each out marked with the
reason (`lg_poison`), for PolitenessMiddleware to record it without fetching it.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from crawler.frontier.job_watch import STATE_SECONDS

if TYPE_CHECKING:
    from scrapy import Request

    from crawler.frontier import Entry, Frontier

# Its lines are the scheduler's: operators read and filter them under that name.
logger = logging.getLogger("crawler.frontier.scheduler")

# Poisoned URLs taken at a time, to be recorded.
POISONED_BATCH = 16


class PoisonedRequests:
    """The poisoned URLs this worker took and has not handed out yet."""

    def __init__(self, frontier: Frontier, worker: str) -> None:
        self.frontier = frontier
        self.worker = worker
        self._taken: list[tuple[Entry, int]] = []
        self._read_at = 0.0

    @property
    def waiting(self) -> bool:
        """Some were taken and not handed out yet (the crawl is not finished)."""
        return bool(self._taken)

    def next(self, spider: Any) -> Request | None:
        """A poisoned URL's request, marked with its reason, if any is waiting; the frontier
        is looked at every STATE_SECONDS at most."""
        if not self._taken and time.monotonic() - self._read_at > STATE_SECONDS:
            self._read_at = time.monotonic()
            self._taken = self.frontier.take_poisoned(self.worker, POISONED_BATCH)
        if not self._taken:
            return None
        entry, lost = self._taken.pop()
        logger.warning("%s is poison: its worker died or hung %d times", entry.url, lost)
        request: Request = spider.request_for(entry)
        request.meta["lg_poison"] = f"poison: its worker died or hung {lost} times"
        return request
