"""Recurring re-crawls in the service: each job whose spec has a schedule (`recrawl_every`
seconds, crawler/settings.py LINKGRAPH_RECRAWL_EVERY) is re-crawled as `linkgraph recrawl` does
(crawler/recrawls.py), as a new job JOB.rN with its pages from the index for seeds; once that
job has ended, the new and lost referring domains of its watched domains are POSTed to its
webhook (crawler/alerts.py), and kept until the webhook has taken them, across restarts of the
service (crawler/service/pending_alerts.py).

A re-crawl is due when the schedule's time has passed since the latest crawl of the job or of
its re-crawls started, and all of them have ended: runs never overlap, and one that overran is
followed by the next at once. A run has ended when its end is recorded (crawler/summary.py),
which is after its rows are stored; one whose workers are gone but whose end is not recorded
counts as ended only after END_GRACE_SECONDS. A re-crawl that cannot start (no pages in the
index, a job that is busy) is said in one line and tried again a schedule later.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import redis
from aiohttp import web

from crawler import jobs
from crawler.alerts import AlertConfig
from crawler.errors import UsageError
from crawler.jobspec import JobSpec
from crawler.jobstats import JobStats, read_job_stats
from crawler.recrawls import base_job, is_recrawl, next_job, page_urls, recrawl_spec
from crawler.service import pending_alerts
from crawler.service.jobs_api import SERVICE
from crawler.service.pending_alerts import PendingAlerts

if TYPE_CHECKING:
    from crawler.service.service import Service

logger = logging.getLogger(__name__)

POLL_SECONDS = 1.0  # how often the schedules and the re-crawls awaiting their alert are read
BUSY = (jobs.RUNNING, jobs.PAUSED)  # states of a job whose run has not ended
END_GRACE_SECONDS = 60.0  # a run with no worker left and no end recorded: ended after this


async def start_schedules(app: web.Application) -> AsyncIterator[None]:
    """aiohttp cleanup context: the schedules run while the app does, and stop with it."""
    schedules = Schedules(app[SERVICE])
    task = asyncio.create_task(schedules.run(), name="schedules")
    yield
    schedules.stopping = True  # a round under way starts nothing more
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


class Schedules:
    """The schedules of the service's jobs, and the alerts of the re-crawls it started."""

    def __init__(self, service: Service, poll: float = POLL_SECONDS) -> None:
        self.service = service
        self.poll = poll
        self.alerts = PendingAlerts(service.redis, service.reads.rows)
        self.not_before: dict[str, float] = {}  # a job whose re-crawl could not start
        self.unrecorded: dict[str, float] = {}  # job -> when it was first seen over, end unsaid
        self.stopping = False

    async def run(self) -> None:
        while True:
            try:
                await asyncio.to_thread(self.start_due)
                for report in await self.alerts.deliver(self._ended):
                    if report.line:
                        level = logging.WARNING if report.failed else logging.INFO
                        logger.log(level, "%s", report.line)
            except Exception as exc:  # Redis or the index away for now: the next round retries
                logger.warning("schedules: %s: %s", type(exc).__name__, exc)
            await asyncio.sleep(self.poll)

    def start_due(self, now: float | None = None) -> list[str]:
        """Start every re-crawl that is due; their names."""
        now = time.time() if now is None else now
        client: redis.Redis = self.service.redis
        names = jobs.names(client)
        started = []
        for name in names:
            spec = jobs.load(client, name) if not is_recrawl(name) else None
            if spec is None or spec.recrawl_every <= 0 or now < self.not_before.get(name, 0):
                continue
            family = [n for n in names if base_job(n) == name]
            if self._due(family, spec.recrawl_every, now):
                job = self._start(spec, family)
                if job:
                    started.append(job)
                else:
                    self.not_before[name] = now + spec.recrawl_every
        return started

    def _due(self, family: list[str], every: float, now: float) -> bool:
        latest = 0.0
        for name in family:
            stats = read_job_stats(self.service.redis, name)
            if stats is None:
                continue
            if not self._over(stats, now):
                return False
            latest = max(latest, stats.started or 0.0)
        return now >= latest + every

    def _ended(self, job: str) -> bool:
        stats = read_job_stats(self.service.redis, job)
        return stats is None or self._over(stats, time.time())

    def _over(self, stats: JobStats, now: float) -> bool:
        """Whether the job's run has ended and its rows are stored."""
        if stats.state in BUSY or stats.summary is not None:
            self.unrecorded.pop(stats.job, None)
            return stats.state not in BUSY
        return now - self.unrecorded.setdefault(stats.job, now) >= END_GRACE_SECONDS

    def _start(self, source: JobSpec, family: list[str]) -> str:
        base = source.job
        try:
            urls, indexed = page_urls(self.service.reads.rows, base)
            if not urls:
                raise UsageError(f"job {base!r} has no pages in the index")
            job = next_job(base, [*indexed, *family])
            if self.stopping:
                return ""
            alert = AlertConfig.of(source)
            if alert.webhook:  # kept before the run starts: its end may come any time after
                pending_alerts.keep(self.service.redis, job, alert)
            try:
                self.service.submit(job, recrawl_spec(source), urls)
            except Exception:
                if alert.webhook:
                    pending_alerts.forget(self.service.redis, job)
                raise
        except (UsageError, RuntimeError) as exc:  # RuntimeError: JobBusy, a stopping service
            logger.warning("schedule of %s: no re-crawl: %s", base, exc)
            return ""
        logger.info("schedule of %s: re-crawling %d pages as job %s", base, len(urls), job)
        return job
