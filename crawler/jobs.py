"""A crawl job as Redis keeps it: its spec, so a worker on another machine crawls with the same
settings, and its state, which `linkgraph pause|resume|stop` change and every worker follows.
"""

from __future__ import annotations

import json
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
    fields = {"spec": spec.to_json(), "state": RUNNING, "started": time.time(),
              "pages_at_start": pages}  # fmt: skip
    pipe = client.pipeline(transaction=False)
    pipe.hdel(keys.config, *END_FIELDS)
    pipe.hset(keys.config, mapping=fields)  # type: ignore[arg-type]
    pipe.execute()
    client.sadd(JOBS_KEY, spec.job)


def end(client: redis.Redis, job: str, outcome: str, summary: str) -> None:
    """Record how this run of the job ended, and its end summary (JSON)."""
    assert outcome in OUTCOMES
    fields = {"ended": time.time(), "outcome": outcome, "summary": summary}
    client.hset(JobKeys(job).config, mapping=fields)  # type: ignore[arg-type]


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
