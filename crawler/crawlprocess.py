"""One crawling process of a job: what it does for the job (ProcessOptions, its own choices,
never saved with the job), its Redis (the given server, or an embedded one it supervises), its
Scrapy settings, and the `linkgraph worker` processes it spawns (crawler/run.py runs them).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scrapy.settings import Settings

from crawler import settings as defaults
from crawler.frontier.connection import connect as connect_redis
from crawler.jobspec import JobSpec
from crawler.processes.supervisor import Supervisor
from crawler.processes.valkey import EmbeddedValkey
from crawler.processes.workers import WorkerGroup
from crawler.storage import StorageTarget


@dataclass(frozen=True)
class ProcessOptions:
    """What this process does for a job: its own choices, never saved with the job."""

    data_dir: Path = Path(defaults.LINKGRAPH_DATA_DIR)
    redis_url: str = defaults.REDIS_URL  # "" = an embedded server with its files in data_dir
    clickhouse_url: str = ""  # this process's own, with its password ("" = the job's)
    log_level: str = "WARNING"
    progress: bool = True
    workers: int = 1  # crawling processes on this machine; this one owns the index
    warc_dir: str = defaults.LINKGRAPH_WARC_DIR
    joining: bool = False  # a `linkgraph worker`: the job exists, and so does its spec
    coordinated: bool = False  # a worker started by a coordinator: it follows its stdin


@contextlib.contextmanager
def redis_for(url: str, data_dir: Path, *, supervise: bool = False) -> Iterator[str]:
    """The Redis URL to use: the given one (checked), or an embedded server for the run,
    restarted if it dies while `supervise`d."""
    if url:
        connect_redis(url).close()
        yield url
        return
    server = EmbeddedValkey(data_dir)
    started = server.start()
    supervisor = Supervisor(server) if supervise and server.process is not None else None
    try:
        if supervisor is not None:
            supervisor.start()
        yield started
    finally:
        if supervisor is not None:
            supervisor.stop()
        server.stop()


def build_settings(
    spec: JobSpec, process: ProcessOptions, storage: StorageTarget, redis_url: str
) -> Settings:
    """The Scrapy settings of one process of the job: the spec's, then the process's own."""
    settings = Settings()
    settings.setmodule("crawler.settings", priority="project")
    settings.setdict(spec.scrapy_settings(), priority="cmdline")
    own: dict[str, Any] = {
        "REDIS_URL": redis_url,
        "LINKGRAPH_SEEDS": [],  # the coordinator queued them already (see start_job)
        "LINKGRAPH_DATA_DIR": str(process.data_dir),
        "LINKGRAPH_CLICKHOUSE_URL": storage.url,  # with the password the spec leaves out
        "LINKGRAPH_WARC_DIR": process.warc_dir,
        "LINKGRAPH_HANDOFF": process.joining and spec.embedded,
        # leases of a stopped run are returned by run_crawl, before any worker starts
        "LINKGRAPH_RETURN_LEASES_AT_START": False,
        "LOG_LEVEL": process.log_level,
    }
    if not process.progress:
        own["LINKGRAPH_PROGRESS_SECONDS"] = 0
    settings.setdict(own, priority="cmdline")
    return settings


def spawn_worker(
    workers: WorkerGroup,
    spec: JobSpec,
    process: ProcessOptions,
    storage: StorageTarget,
    redis_url: str,
) -> None:
    args = [sys.executable, "-m", "crawler.cli.main", "worker", "--job", spec.job,
            "--data-dir", str(process.data_dir), "-q", "--from-coordinator"]  # fmt: skip
    if process.warc_dir:
        args += ["--warc", process.warc_dir]
    if process.log_level == "INFO":
        args.append("--verbose")
    # The URLs travel in the environment, where `ps` does not show their passwords.
    env = {**os.environ, "LINKGRAPH_REDIS_URL": redis_url, "LINKGRAPH_CLICKHOUSE_URL": storage.url}
    workers.spawn(args, env)
