"""A crawl job as Redis keeps it: its spec, so a worker on another machine crawls with the same
settings, and its state, which `linkgraph pause|resume|stop` change and every worker follows.

A run's end is recorded by the process that started it (a crawl's coordinator, or the service),
after its last worker has left and their rows are stored. In between, no worker crawls the job,
yet it has not ended: so that nobody takes it for interrupted then, that process renews
`owner_until` in the job's config while the run is its own (`RunOwner`), and `end` records the
outcome and drops that mark in one transaction. A reader that finds neither a live worker, nor a
live owner, nor an outcome knows the run was cut off (crawler/jobstats.py).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any, cast

import redis

from crawler.frontier.keys import JOBS_KEY, JobKeys
from crawler.jobspec import JobSpec

RUNNING, PAUSED, STOPPED = "running", "paused", "stopped"
STATES = (RUNNING, PAUSED, STOPPED)  # what workers follow; set by pause, resume and stop
# How a run of the job ended (its `outcome`), recorded by the process that ran it.
FINISHED, STOPPED_AT_MAX_PAGES, INTERRUPTED, FAILED = (
    "finished", "stopped at max-pages", "interrupted", "failed",
)  # fmt: skip
OUTCOMES = (FINISHED, STOPPED_AT_MAX_PAGES, STOPPED, INTERRUPTED, FAILED)
# Fields a run's end writes; a new run starts without them.
END_FIELDS = ("ended", "outcome", "summary")
OWNER_FIELD = "owner_until"  # until when the process that records the run's end is known alive
OWNER_SECONDS = 15.0  # how long one renewal of it lasts: three renewals missed
OWNER_RENEW_SECONDS = OWNER_SECONDS / 3

logger = logging.getLogger(__name__)


def partition_keys(job: str, spec: dict[str, Any]) -> list[JobKeys]:
    """The keys of each partition of the job's frontier (one: the job's own): each counts the
    pages it acknowledges in its own figures (crawler/jobstats.py)."""
    count = spec.get("frontier_partitions") or spec.get("settings", {}).get(
        "LINKGRAPH_FRONTIER_PARTITIONS", 1
    )
    return JobKeys(job).partitions(int(count or 1))


def save(client: redis.Redis, spec: JobSpec) -> None:
    """Save the spec and mark the job running, from now, with the pages it had so far (a
    resumed job's rate counts this run's pages). The global list of jobs lives in another hash
    slot than the job's keys, so it is written on its own, after."""
    keys = JobKeys(spec.job)
    pipe = client.pipeline(transaction=False)
    for part in partition_keys(spec.job, json.loads(spec.to_json())):
        pipe.hget(part.figures, "pages")
    pages = sum(int(cast("bytes | None", n) or 0) for n in pipe.execute())
    now = time.time()
    fields = {"spec": spec.to_json(), "state": RUNNING, "started": now, "pages_at_start": pages,
              OWNER_FIELD: now + OWNER_SECONDS}  # fmt: skip
    pipe = client.pipeline(transaction=False)
    pipe.hdel(keys.config, *END_FIELDS)
    pipe.hset(keys.config, mapping=fields)  # type: ignore[arg-type]
    pipe.execute()
    client.sadd(JOBS_KEY, spec.job)


def end(client: redis.Redis, job: str, outcome: str, summary: str) -> None:
    """Record how this run of the job ended, and its end summary (JSON); the run has no owner
    any more, in the same transaction (one key: one slot on a cluster too)."""
    assert outcome in OUTCOMES
    fields = {"ended": time.time(), "outcome": outcome, "summary": summary}
    pipe = client.pipeline(transaction=True)
    pipe.hset(JobKeys(job).config, mapping=fields)  # type: ignore[arg-type]
    pipe.hdel(JobKeys(job).config, OWNER_FIELD)
    pipe.execute()


def owner_alive(config: dict[str, str], now: float) -> bool:
    """Whether the job's config (decoded) says the process that records its end is alive."""
    try:
        return float(config.get(OWNER_FIELD) or 0) > now
    except ValueError:
        return False


class RunOwner:
    """The mark of the process that will record a run's end, renewed in a thread of its own
    from `start` until `stop` (after `end`): while it lasts, a job with no live worker is ending,
    not interrupted. A process that dies stops renewing it, and the mark lapses."""

    def __init__(self, client: redis.Redis, job: str, renew: float = OWNER_RENEW_SECONDS):
        self.client = client
        self.job = job
        self.renew = renew
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"owner-{job}", daemon=True)

    def __enter__(self) -> RunOwner:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Renew no more, and drop the mark (`end` dropped it already, unless the run's end
        could not be recorded: then the job shows as interrupted at once)."""
        self._stopped.set()
        if self._thread.is_alive():  # a renewal under way waits for Redis at most this long
            self._thread.join(OWNER_SECONDS)
        try:
            self.client.hdel(JobKeys(self.job).config, OWNER_FIELD)
        except redis.RedisError as exc:  # it lapses instead
            logger.debug("job %s: owner mark not dropped (%s)", self.job, exc)

    def _run(self) -> None:
        while not self._stopped.wait(self.renew):
            try:
                self.client.hset(JobKeys(self.job).config, OWNER_FIELD, time.time() + OWNER_SECONDS)
            except redis.RedisError as exc:  # Redis away for now: the next renewal retries
                logger.debug("job %s: owner mark not renewed (%s)", self.job, exc)


def load(client: redis.Redis, job: str) -> JobSpec | None:
    raw = client.hget(JobKeys(job).config, "spec")
    return None if raw is None else JobSpec.from_json(raw)


def state(client: redis.Redis, job: str) -> str:
    raw = client.hget(JobKeys(job).config, "state")
    return raw.decode() if isinstance(raw, bytes) else RUNNING


def set_state(client: redis.Redis, job: str, new_state: str) -> None:
    assert new_state in STATES
    client.hset(JobKeys(job).config, "state", new_state)


def names(client: redis.Redis) -> list[str]:
    return sorted(m.decode() for m in client.smembers(JOBS_KEY))  # type: ignore[union-attr]
