"""A crawl job as Redis keeps it: its spec, so a worker on another machine crawls with the same
settings, and its state, which `linkgraph pause|resume|stop` change and every worker follows.
"""

from __future__ import annotations

import time

import redis

from crawler.frontier.keys import JOBS_KEY, JobKeys
from crawler.jobspec import JobSpec

RUNNING, PAUSED, STOPPED = "running", "paused", "stopped"
STATES = (RUNNING, PAUSED, STOPPED)


def save(client: redis.Redis, spec: JobSpec) -> None:
    """Save the spec and mark the job running. The job's hash is written in one command; the
    global list of jobs lives in another hash slot, so it is written on its own, after."""
    fields = {"spec": spec.to_json(), "state": RUNNING, "started": time.time()}
    client.hset(JobKeys(spec.job).config, mapping=fields)  # type: ignore[arg-type]
    client.sadd(JOBS_KEY, spec.job)


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
