"""Prints a progress line every few seconds, and keeps the figures for the final summary."""

from __future__ import annotations

import logging
import sys
import time
from typing import TYPE_CHECKING

from scrapy import signals
from scrapy.exceptions import NotConfigured
from twisted.internet import task

from crawler.frontier import Frontier, frontier_for

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)


class Progress:
    def __init__(self, crawler: Crawler, frontier: Frontier, interval: float) -> None:
        self.crawler = crawler
        self.frontier = frontier
        self.interval = interval
        self.started = time.monotonic()
        self._last = (self.started, 0)
        self._loop = task.LoopingCall(self._tick)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Progress:
        interval = crawler.settings.getfloat("LINKGRAPH_PROGRESS_SECONDS")
        if interval <= 0:
            raise NotConfigured
        progress = cls(crawler, frontier_for(crawler), interval)
        crawler.signals.connect(progress.opened, signal=signals.spider_opened)
        crawler.signals.connect(progress.closed, signal=signals.spider_closed)
        return progress

    def opened(self) -> None:
        self._loop.start(self.interval, now=False)

    def closed(self) -> None:
        if self._loop.running:
            self._loop.stop()

    def _tick(self) -> None:
        # A LoopingCall stops at its first error: a missed line must not end the progress.
        try:
            self.report()
        except Exception as exc:
            logger.warning("progress line skipped (%s: %s)", type(exc).__name__, exc)

    def report(self) -> None:
        stats = self.crawler.stats
        pages = int(stats.get_value("linkgraph/pages", 0)) if stats else 0
        links = int(stats.get_value("linkgraph/links", 0)) if stats else 0
        now = time.monotonic()
        rate = (pages - self._last[1]) / max(now - self._last[0], 1e-9)
        self._last = (now, pages)
        f = self.frontier.stats()
        print(
            f"[{self.frontier.job}] {pages} pages, {links} links, {f.get('queued', 0)} queued on "
            f"{f['hosts_queued']} hosts, {f['leased']} not yet recorded, {rate:.1f} pages/s",
            file=sys.stderr,
            flush=True,
        )
