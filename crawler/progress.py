"""Shows the job's progress every few seconds: the figures of every worker of the job (shared in
Redis, crawler/jobstats.py), elapsed time, and with a page limit a percentage and an ETA.

On a terminal it is a tqdm progress bar, redrawn in place; in a pipe (a log file, a test) it is
one plain line each time, so that nothing but text lands there.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import replace
from typing import TYPE_CHECKING, TextIO

from scrapy import signals
from scrapy.exceptions import NotConfigured
from tqdm import tqdm
from twisted.internet import task

from crawler.frontier import Frontier, frontier_for
from crawler.jobstats import JobStats, read_job_stats
from crawler.summary import duration, run_outcome

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)


def progress_line(stats: JobStats) -> str:
    """One line of the job's figures, as printed in a pipe."""
    return f"[{stats.job}] {stats.state}: {counts(stats)}, {rates(stats)}"


def counts(stats: JobStats) -> str:
    done = f"{stats.pages} pages"
    if stats.max_pages:
        done += f" of {stats.max_pages} ({percent(stats)}%)"
    errors = sum(stats.errors.values())
    return (
        f"{done}, {stats.links} links, {stats.queued} queued on {stats.hosts_queued} hosts, "
        f"{stats.in_flight} in flight, {stats.live_workers} workers, {errors} errors, "
        f"{stats.robots_refused} robots refusals"
    )


def rates(stats: JobStats) -> str:
    text = f"{stats.pages_per_s:.1f} pages/s, elapsed {duration(stats.elapsed_s)}"
    if stats.eta_s is not None:
        text += f", ETA {duration(stats.eta_s)}"
    return text


def percent(stats: JobStats) -> int:
    return min(100, stats.pages * 100 // stats.max_pages) if stats.max_pages else 0


class Progress:
    def __init__(
        self, frontier: Frontier, interval: float, out: TextIO, *, bar: bool | None = None
    ) -> None:
        self.frontier = frontier
        self.interval = interval
        self.out = out
        self.use_bar = out.isatty() if bar is None else bar
        self._bar: tqdm[None] | None = None
        self._loop = task.LoopingCall(self._tick)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Progress:
        interval = crawler.settings.getfloat("LINKGRAPH_PROGRESS_SECONDS")
        if interval <= 0:
            raise NotConfigured
        progress = cls(frontier_for(crawler), interval, sys.stderr)
        crawler.signals.connect(progress.opened, signal=signals.spider_opened)
        crawler.signals.connect(progress.closed, signal=signals.spider_closed)
        return progress

    def opened(self) -> None:
        self._loop.start(self.interval, now=False)

    def closed(self, reason: str) -> None:
        """The last figures: every row this process waited for is recorded by now."""
        if self._loop.running:
            self._loop.stop()
        self._tick(reason)
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def _tick(self, finish_reason: str = "") -> None:
        # A LoopingCall stops at its first error: a missed line must not end the progress.
        try:
            self.report(finish_reason)
        except Exception as exc:
            logger.warning("progress line skipped (%s: %s)", type(exc).__name__, exc)

    def report(self, finish_reason: str = "") -> None:
        """Show the job's figures; with this process's `finish_reason`, how its run ended."""
        stats = read_job_stats(self.frontier.client, self.frontier.job)
        if stats is None:
            return
        if finish_reason:
            stats = replace(stats, state=run_outcome(finish_reason, stats), eta_s=None)
        if not self.use_bar:
            self.out.write(progress_line(stats) + "\n")
            self.out.flush()
            return
        bar = self._bar
        if bar is None:
            bar = self._bar = tqdm(
                total=stats.max_pages or None,
                file=self.out,
                unit="pages",
                dynamic_ncols=True,
                # the job's own elapsed time and rate, not this process's
                # (tqdm puts ", " before the postfix)
                bar_format="{desc}: {percentage:3.0f}%|{bar}|{postfix}"
                if stats.max_pages
                else "{desc}{postfix}",
            )
        bar.n = stats.pages
        bar.set_description_str(f"{stats.job} {stats.state}", refresh=False)
        bar.set_postfix_str(f"{counts(stats)}, {rates(stats)}", refresh=False)
        bar.refresh()
