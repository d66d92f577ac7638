"""A job's live figures, shared by every worker: what progress lines, `status`, the API and the
metrics show.

The page figures are counted in Redis (crawler/frontier/keys.py `figures`, `host_pages`,
`host_failures`) by the frontier's ACK script, in the call that ends the leases of a stored
batch: a page is counted once, when its row is in the index, whichever worker fetched it, and a
batch acknowledged again (a retry, a replay after a crash) counts nothing, since only pages
still leased are. So at the end `pages` equals the index's `count()` of the job's pages. What
ACK is given for each page is its `tally`, made from its row here.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Any, cast

import redis

from crawler import jobs
from crawler.failures import REFUSED_REASON
from crawler.frontier.keys import JobKeys
from crawler.frontier.reaping import WORKER_TIMEOUT
from crawler.rows import Batch, PageRow

TOP_HOSTS = 10
STATUS_CLASSES = ("2xx", "3xx", "4xx", "5xx", "none")
# A job whose run has not recorded its end, with no live worker for this long, was interrupted
# (its coordinator killed); before that, its workers may still be starting.
STARTING_SECONDS = WORKER_TIMEOUT


def status_class(status: int) -> str:
    return "none" if status <= 0 else f"{min(max(status // 100, 1), 5)}xx"


def is_robots_refusal(error: str) -> bool:
    return error == "robots" or error.startswith("robots:")


def error_class(error: str) -> str:
    """The class of a fetch error as recorded (crawler/failures.py describe_failure): the
    reason up to its detail, e.g. "timeout", "dns: no such name", "invalid response"."""
    if not error or is_robots_refusal(error):
        return ""
    if error == REFUSED_REASON or error.startswith("dns"):
        return error[:40]
    if error.startswith("host dropped"):  # "host dropped after N failures in a row (last: ..)"
        return "host dropped"
    head = error.split(":", 1)[0].strip()
    return head[:40] or "other"


def tally(page: PageRow) -> tuple[str, int, int, str, str, int, int]:
    """What ACK counts for one recorded page: host, links, bytes, status class, error class,
    robots refusal (0/1), failure (0/1: a fetch error or a 5xx, counted against its host)."""
    robots = is_robots_refusal(page.error)
    errors = error_class(page.error) if page.status <= 0 else ""
    failed = bool(errors) or page.status >= 500
    return (page.host, page.links, page.bytes, status_class(page.status), errors,
            int(robots), int(failed))  # fmt: skip


def tallies(batch: Batch) -> list[tuple[str, int, int, str, str, int, int]]:
    return [tally(page) for page in batch.pages]


def iso(when: float | None) -> str | None:
    """An epoch time as ISO 8601 in UTC with "Z", to the second."""
    if when is None:
        return None
    return datetime.fromtimestamp(when, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class JobStats:
    job: str
    state: str  # "running" | "paused" | a jobs.OUTCOMES value
    pages: int
    links: int
    bytes: int
    status: dict[str, int]  # STATUS_CLASSES -> pages
    errors: dict[str, int]  # fetch error class -> pages
    robots_refused: int
    queued: int
    in_flight: int
    hosts_queued: int
    hosts_parked: int
    live_workers: int
    started: float | None  # epoch seconds of this run's start
    ended: float | None
    elapsed_s: float
    pages_per_s: float  # this run's average; frozen once ended
    max_pages: int  # 0 = no limit
    eta_s: float | None  # with max_pages, while running
    top_hosts: list[tuple[str, int]]  # the hosts with the most pages recorded
    summary: dict[str, Any] | None  # the end summary, once saved

    @property
    def ended_run(self) -> bool:
        return self.state in jobs.OUTCOMES

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["started"], out["ended"] = iso(self.started), iso(self.ended)
        out["top_hosts"] = [[host, n] for host, n in self.top_hosts]
        return out


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def job_partition_keys(client: redis.Redis, job: str) -> list[JobKeys]:
    raw = client.hget(JobKeys(job).config, "spec")
    return jobs.partition_keys(job, json.loads(_text(raw)) if raw else {})


def read_job_stats(client: redis.Redis, job: str) -> JobStats | None:
    """The job's figures now, in two round trips; None: no such job."""
    config = {_text(k): _text(v) for k, v in client.hgetall(JobKeys(job).config).items()}
    if "spec" not in config:
        return None
    spec = json.loads(config["spec"])
    parts = jobs.partition_keys(job, spec)
    now = time.time()
    pipe = client.pipeline(transaction=False)
    pipe.zcount(parts[0].workers, now - WORKER_TIMEOUT, "+inf")
    for keys in parts:
        pipe.hgetall(keys.figures)
        pipe.hgetall(keys.stats)
        pipe.hlen(keys.leases)
        pipe.zcard(keys.due)
        pipe.hvals(keys.parked)
        pipe.zrevrange(keys.host_pages, 0, TOP_HOSTS - 1, withscores=True)
    workers, *replies = pipe.execute()
    figures: Counter[str] = Counter()
    counters: Counter[str] = Counter()
    leased = hosts_queued = hosts_parked = 0
    top: list[tuple[str, int]] = []
    for i in range(0, len(replies), 6):
        figures_raw, stats_raw, part_leased, part_due, parked, part_top = replies[i : i + 6]
        figures.update({_text(k): int(v) for k, v in figures_raw.items()})
        counters.update({_text(k): int(v) for k, v in stats_raw.items()})
        leased += int(part_leased)
        hosts_queued += int(part_due)
        hosts_parked += sum(1 for until in parked if float(until) > now)
        top += [(_text(h), int(n)) for h, n in cast("list[tuple[bytes, float]]", part_top)]
    max_pages = int(spec.get("max_pages") or 0)
    started = float(config["started"]) if "started" in config else None
    ended = float(config["ended"]) if "ended" in config else None
    state = _state(config, int(workers), started, now)
    if ended is None and state in jobs.OUTCOMES:
        ended = now  # no end recorded (a killed run): its figures stop at the last page
    pages = figures["pages"]
    elapsed = max((ended or now) - started, 0.0) if started is not None else 0.0
    run_pages = pages - int(config.get("pages_at_start") or 0)
    rate = run_pages / elapsed if elapsed > 0 else 0.0
    eta = None
    if max_pages and state == jobs.RUNNING and rate > 0:
        eta = max(max_pages - pages, 0) / rate
    summary = json.loads(config["summary"]) if config.get("summary") else None
    return JobStats(
        job=job,
        state=state,
        pages=pages,
        links=figures["links"],
        bytes=figures["bytes"],
        status={c: figures[f"status:{c}"] for c in STATUS_CLASSES},
        errors={k[6:]: v for k, v in sorted(figures.items()) if k.startswith("error:")},
        robots_refused=figures["robots_refused"],
        queued=counters["queued"],
        in_flight=leased,
        hosts_queued=hosts_queued,
        hosts_parked=hosts_parked,
        live_workers=int(workers),
        started=started,
        ended=ended,
        elapsed_s=round(elapsed, 3),
        pages_per_s=round(rate, 2),
        max_pages=max_pages,
        eta_s=None if eta is None else round(eta, 1),
        top_hosts=sorted(top, key=lambda hn: (-hn[1], hn[0]))[:TOP_HOSTS],
        summary=summary,
    )


def _state(config: dict[str, str], workers: int, started: float | None, now: float) -> str:
    outcome = config.get("outcome")
    control = config.get("state", jobs.RUNNING)
    if outcome and workers == 0:
        return outcome
    if control == jobs.PAUSED:
        return jobs.PAUSED
    if workers == 0 and not outcome:
        if control == jobs.STOPPED:
            return jobs.STOPPED
        if jobs.owner_alive(config, now):
            return jobs.RUNNING  # its last worker left: its end is being recorded
        if started is None or now - started > STARTING_SECONDS:
            return jobs.INTERRUPTED  # nobody crawls it, and its end was never recorded
    return jobs.RUNNING
