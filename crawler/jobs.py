"""A crawl job as Redis keeps it: its settings, so a worker on another machine crawls with the
same ones, and its state, which `linkgraph pause|resume|stop` change and every worker follows.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import redis

from crawler.frontier.keys import JOBS_KEY, JobKeys

RUNNING, PAUSED, STOPPED = "running", "paused", "stopped"
STATES = (RUNNING, PAUSED, STOPPED)


@dataclass
class JobConfig:
    """What every worker of a job must agree on."""

    delay: float = 1.0
    max_pages: int = 0
    max_pages_per_host: int = 0
    max_depth: int = 0
    follow_links: bool = True
    allow_private: bool = False
    hosts: dict[str, str] = field(default_factory=dict)  # the --hosts-file mapping itself
    user_agent: str = ""
    embedded_storage: bool = True  # True: workers hand rows to the coordinator via Redis
    database: str = "linkgraph"
    lease_seconds: float = 300.0
    scope: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)  # `--set NAME=VALUE` overrides


def save(client: redis.Redis, job: str, config: JobConfig) -> None:
    keys = JobKeys(job)
    pipe = client.pipeline()
    pipe.sadd(JOBS_KEY, job)
    pipe.hset(keys.config, mapping={"options": json.dumps(asdict(config)), "state": RUNNING,
                                    "started": time.time()})  # fmt: skip
    pipe.execute()


def load(client: redis.Redis, job: str) -> JobConfig | None:
    raw = client.hget(JobKeys(job).config, "options")
    if raw is None:
        return None
    known = JobConfig.__dataclass_fields__
    return JobConfig(**{k: v for k, v in json.loads(raw).items() if k in known})


def state(client: redis.Redis, job: str) -> str:
    raw = client.hget(JobKeys(job).config, "state")
    return raw.decode() if isinstance(raw, bytes) else RUNNING


def set_state(client: redis.Redis, job: str, new_state: str) -> None:
    assert new_state in STATES
    client.hset(JobKeys(job).config, "state", new_state)


def names(client: redis.Redis) -> list[str]:
    return sorted(m.decode() for m in client.smembers(JOBS_KEY))  # type: ignore[union-attr]
