"""The Redis frontier: per-host queues with politeness, fingerprint dedupe and leases.

A crawler's frontier belongs to its spider: LinkSpider builds it with `build_frontier` in its
`from_crawler`, which Scrapy runs before it builds any other component (extensions,
middlewares, pipelines, then the scheduler). Those reach it through `frontier_for(crawler)`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from scrapy.utils.misc import load_object

from crawler.frontier.bloom import Dedupe
from crawler.frontier.connection import connect
from crawler.frontier.entry import Entry, fingerprint
from crawler.frontier.frontier import Frontier

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.settings import BaseSettings

__all__ = ["Entry", "Frontier", "build_frontier", "fingerprint", "frontier_for"]


def build_frontier(settings: BaseSettings) -> Frontier:
    """The frontier of the job the settings name, on the Redis server they name."""
    return Frontier(
        connect(settings["REDIS_URL"], timeout=settings.getfloat("LINKGRAPH_REDIS_TIMEOUT")),
        settings["LINKGRAPH_JOB"],
        delay=settings.getfloat("LINKGRAPH_DELAY"),
        lease_seconds=settings.getfloat("LINKGRAPH_LEASE_SECONDS"),
        max_pages=settings.getint("LINKGRAPH_MAX_PAGES"),
        max_pages_per_host=settings.getint("LINKGRAPH_MAX_PAGES_PER_HOST"),
        priority=load_object(settings["LINKGRAPH_PRIORITY"]),
        partitions=settings.getint("LINKGRAPH_FRONTIER_PARTITIONS"),
        dedupe=Dedupe(
            settings["LINKGRAPH_DEDUPE"],
            settings.getint("LINKGRAPH_BLOOM_CAPACITY"),
            settings.getfloat("LINKGRAPH_BLOOM_ERROR_RATE"),
        ),
    )


def frontier_for(crawler: Crawler) -> Frontier:
    """The crawler's frontier: its spider's (see the module docstring)."""
    frontier = getattr(crawler.spider, "frontier", None)
    if not isinstance(frontier, Frontier):
        raise TypeError(
            f"linkgraph's components need a spider with a frontier (LinkSpider), "
            f"not {type(crawler.spider).__name__}"
        )
    return frontier
