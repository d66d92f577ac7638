"""The end summary of a crawl job: built from its shared figures (crawler/jobstats.py) when a
run ends, saved with the job (`linkgraph status JOB` shows it), and printed by `crawl`."""

from __future__ import annotations

import json
import logging
from typing import Any

import redis

from crawler import jobs
from crawler.jobstats import JobStats, job_partition_keys, read_job_stats

logger = logging.getLogger(__name__)

SUMMARY_HOSTS = 5  # slowest and most failing hosts listed
STATUS_NAMES = {"none": "no response"}


def run_outcome(finish_reason: str, stats: JobStats) -> str:
    """How a run ended, from Scrapy's finish reason and what is left in the frontier."""
    if finish_reason == jobs.INTERRUPTED:
        return jobs.INTERRUPTED
    if finish_reason == "finished":
        if stats.max_pages and stats.queued > 0:
            return jobs.STOPPED_AT_MAX_PAGES
        return jobs.FINISHED
    if finish_reason == "shutdown":  # Ctrl-C, SIGTERM, `linkgraph stop`
        return jobs.STOPPED
    return jobs.FAILED


def record_end(client: redis.Redis, job: str, finish_reason: str) -> JobStats | None:
    """Record how the job's run ended, with its summary; returns the job's figures then (None:
    Redis failed meanwhile, and the job shows as interrupted)."""
    try:
        stats = read_job_stats(client, job)
        if stats is None:
            return None
        outcome = run_outcome(finish_reason, stats)
        summary = build_summary(client, stats, outcome)
        jobs.end(client, job, outcome, json.dumps(summary, sort_keys=True))
        return read_job_stats(client, job)
    except redis.RedisError as exc:
        logger.warning("the end of job %s is not recorded (%s: %s)", job, type(exc).__name__, exc)
        return None


def build_summary(client: redis.Redis, stats: JobStats, outcome: str) -> dict[str, Any]:
    pipe = client.pipeline(transaction=False)
    for keys in job_partition_keys(client, stats.job):
        pipe.zrevrange(keys.host_failures, 0, SUMMARY_HOSTS - 1, withscores=True)
        pipe.hgetall(keys.host_seconds)
        pipe.hgetall(keys.host_fetches)
        pipe.zrevrange(keys.host_pages, 0, -1, withscores=True)
    replies = pipe.execute()
    failing: list[tuple[str, int]] = []
    seconds: dict[str, float] = {}
    timed: dict[str, int] = {}
    pages_of: dict[str, int] = {}
    for i in range(0, len(replies), 4):
        part_failing, part_seconds, part_fetches, part_pages = replies[i : i + 4]
        failing += [(h.decode(), int(n)) for h, n in part_failing if n > 0]
        seconds.update({h.decode(): float(v) for h, v in part_seconds.items()})
        timed.update({h.decode(): int(v) for h, v in part_fetches.items()})
        pages_of.update({h.decode(): int(n) for h, n in part_pages})
    failing = sorted(failing, key=lambda hn: (-hn[1], hn[0]))[:SUMMARY_HOSTS]
    average = {h: s / timed[h] for h, s in seconds.items() if timed.get(h)}
    slowest = sorted(average.items(), key=lambda hs: (-hs[1], hs[0]))[:SUMMARY_HOSTS]
    return {
        "outcome": outcome,
        "elapsed_s": stats.elapsed_s,
        "pages_per_s": stats.pages_per_s,
        "pages": stats.pages,
        "links": stats.links,
        "bytes": stats.bytes,
        "status": stats.status,
        "errors": stats.errors,
        "robots_refused": stats.robots_refused,
        "queued": stats.queued,
        "slowest_hosts": [
            {"host": h, "seconds_per_fetch": round(s, 3), "fetches": timed[h]} for h, s in slowest
        ],
        "most_failing_hosts": [
            {"host": h, "failures": n, "pages": pages_of.get(h, 0)} for h, n in failing
        ],
    }


def duration(seconds: float) -> str:
    """Seconds as `4.2s`, `3m05s` or `2h03m05s`."""
    if seconds < 60:
        return f"{seconds:.1f}s"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


def seconds(value: float) -> str:
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


def summary_lines(job: str, summary: dict[str, Any]) -> list[str]:
    """The summary as text, one figure per line."""
    status = ", ".join(f"{STATUS_NAMES.get(c, c)} {n}" for c, n in summary["status"].items() if n)
    errors = ", ".join(f"{c} {n}" for c, n in sorted(summary["errors"].items(),
                                                     key=lambda cn: (-cn[1], cn[0])))  # fmt: skip
    slowest = ", ".join(
        f"{h['host']} ({seconds(h['seconds_per_fetch'])} per response, {h['fetches']} responses)"
        for h in summary["slowest_hosts"]
    )
    failing = ", ".join(
        f"{h['host']} ({h['failures']} of {h['pages']} pages)"
        for h in summary["most_failing_hosts"]
    )
    return [
        f"summary of job {job}: {summary['outcome']} after {duration(summary['elapsed_s'])} "
        f"({summary['pages_per_s']:.1f} pages/s)",
        f"  pages: {summary['pages']} ({status or 'none'})",
        f"  links: {summary['links']}",
        f"  bytes: {summary['bytes']}",
        f"  robots refusals: {summary['robots_refused']}",
        f"  fetch errors: {errors or 'none'}",
        f"  slowest hosts: {slowest or 'none'}",
        f"  most failing hosts: {failing or 'none'}",
        f"  still queued: {summary['queued']}",
    ]
