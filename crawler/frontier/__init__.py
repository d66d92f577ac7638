"""The Redis frontier: per-host queues with politeness, fingerprint dedupe and leases.

One `Frontier` serves each crawler; the scheduler, the politeness and robots middlewares and the
link pipeline all reach it through `frontier_for(crawler)`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from weakref import WeakKeyDictionary

from scrapy.utils.misc import load_object

from crawler.frontier.connection import connect
from crawler.frontier.frontier import Entry, Frontier, fingerprint

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

__all__ = ["Entry", "Frontier", "fingerprint", "frontier_for"]

_frontiers: WeakKeyDictionary[Crawler, Frontier] = WeakKeyDictionary()


def frontier_for(crawler: Crawler) -> Frontier:
    """The crawler's frontier, built once from its settings."""
    frontier = _frontiers.get(crawler)
    if frontier is None:
        s = crawler.settings
        frontier = Frontier(
            connect(s["REDIS_URL"]),
            s["LINKGRAPH_JOB"],
            delay=s.getfloat("LINKGRAPH_DELAY"),
            lease_seconds=s.getfloat("LINKGRAPH_LEASE_SECONDS"),
            max_pages=s.getint("LINKGRAPH_MAX_PAGES"),
            max_pages_per_host=s.getint("LINKGRAPH_MAX_PAGES_PER_HOST"),
            priority=load_object(s["LINKGRAPH_PRIORITY"]),
        )
        _frontiers[crawler] = frontier
    return frontier
