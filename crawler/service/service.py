"""The Service: what `linkgraph serve` owns (the frontier's Redis, the index) and the crawl jobs
it runs in worker processes (crawler/service/runs.py), as the API steers them.

A job is started the way `linkgraph crawl` starts one (crawler/run.py): its spec resolved from
the saved one and what was given, saved with the job, its seeds queued, leases of an earlier run
returned; then its workers are spawned. Stopping the service stops every run gracefully (the
workers finish what is in flight and hand their rows over, which are stored), then closes the
index; the embedded Valkey server is stopped last, by `open`'s caller context.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis

from crawler import jobs
from crawler.errors import UsageError
from crawler.frontier.connection import connect as connect_redis
from crawler.jobconfig import checked_job, checked_seeds
from crawler.jobspec import hide_password, index_url
from crawler.processes.stopping import KILL, STOP
from crawler.run import (
    INTERRUPTED,
    ProcessOptions,
    redis_for,
    resolve_spec,
    spawn_worker,
    start_job,
)
from crawler.service.runs import JobRun, stop_runs
from crawler.service.submission import given_settings
from crawler.storage import StorageTarget, connect
from crawler.summary import record_end

logger = logging.getLogger(__name__)

MAX_WORKERS = 64  # worker processes of one job on this machine
STOP_SECONDS = 30.0  # a run told to stop at shutdown finishes its fetches within this...
KILL_SECONDS = 10.0  # ...else it is stopped at once, and killed after this
# pause/resume/stop, by verb or by the state they set
STATE_OF = {"pause": jobs.PAUSED, "resume": jobs.RUNNING, "stop": jobs.STOPPED}
STATE_OF.update({state: state for state in jobs.STATES})


class NoSuchJob(LookupError):
    """An unknown job (the API's 404)."""


class JobBusy(RuntimeError):
    """A job that this service is running already (the API's 409)."""


@dataclass(frozen=True)
class ServiceOptions:
    data_dir: Path
    redis_url: str = ""  # "" = the embedded Valkey server in data_dir
    storage: StorageTarget | None = None  # None = chDB in data_dir
    log_level: str = "WARNING"  # of the workers


class Service:
    def __init__(self, client: redis.Redis, redis_url: str, reads: Any, options: ServiceOptions):
        self.redis = client
        self.redis_url = redis_url
        self.reads = reads  # IndexReads (crawler/service/reads.py)
        self.data_dir = options.data_dir
        self.storage = options.storage or StorageTarget("", options.data_dir)
        self.options = options
        self._runs: dict[str, JobRun] = {}
        self._lock = threading.Lock()
        self._closed = False

    @classmethod
    @contextlib.contextmanager
    def open(cls, options: ServiceOptions) -> Iterator[Service]:
        """The service, its Redis and index up; on the way out, its runs stopped and stored,
        its index closed, and last its embedded Redis (if any) stopped."""
        from crawler.service.reads import IndexReads

        storage = options.storage or StorageTarget("", options.data_dir)
        with redis_for(options.redis_url, options.data_dir, supervise=True) as url:
            connect(storage).close()  # the schema applied; a locked index fails here
            reads = IndexReads(storage)
            service = cls(connect_redis(url), url, reads, options)
            try:
                yield service
            finally:
                service.close()
                reads.close()

    # -- jobs ----------------------------------------------------------------------------------
    def submit(
        self, job: str | None, spec: Mapping[str, Any], seeds: Sequence[str], workers: int = 1
    ) -> str:
        """Start a new job, or resume a known one (its saved spec updated with `spec`), in
        `workers` processes. Returns the job's name; raises UsageError on bad input."""
        given = given_settings(spec)
        urls = checked_seeds(seeds)
        if isinstance(workers, bool) or not isinstance(workers, int):
            raise UsageError(f"workers: {workers!r} is not a whole number")
        if not 1 <= workers <= MAX_WORKERS:
            raise UsageError(f"workers: give 1 to {MAX_WORKERS}")
        name = checked_job(job) if job is not None else self._new_name()
        given.update(self._index_settings())
        with self._lock:
            if self._closed:
                raise JobBusy("the service is stopping")
            self._busy(name)
            if not urls and not self.known(name):
                raise UsageError(f"seeds: give the URLs to start job {name!r} from")
            resolved, changes = resolve_spec(self.redis, name, given, urls)
            storage = StorageTarget(index_url(resolved, self.storage.url), self.data_dir,
                                    resolved.database)  # fmt: skip
            start_job(self.redis, resolved, changes, urls)
            run = JobRun(name, self.redis, self._index() if resolved.embedded else None,
                         self._ended)  # fmt: skip
            process = ProcessOptions(data_dir=self.data_dir, redis_url=self.redis_url,
                                     clickhouse_url=storage.url, log_level=self.options.log_level,
                                     progress=False)  # fmt: skip
            self._runs[name] = run
            try:
                for _ in range(workers):
                    spawn_worker(run.workers, resolved, process, storage, self.redis_url)
            finally:
                run.start()  # whatever was spawned is looked after
        logger.info("job %s: started with %d workers", name, workers)
        return name

    def set_state(self, job: str, state: str) -> None:
        """Pause, resume or stop `job`. Resuming a job with no run here starts one."""
        if state not in STATE_OF:
            raise UsageError(f"no state {state!r}: use pause, resume or stop")
        if jobs.load(self.redis, job) is None:
            raise NoSuchJob(job)
        new = STATE_OF[state]
        with self._lock:
            run = self._runs.get(job)
            live = run is not None and run.alive
        if new == jobs.RUNNING and not live:
            self.submit(job, {}, [], workers=max(len(run.workers.procs), 1) if run else 1)
            return
        jobs.set_state(self.redis, job, new)
        if new == jobs.STOPPED and run is not None:
            run.tell(STOP)  # they read the state too, within a second; this is at once

    def names(self) -> list[str]:
        return jobs.names(self.redis)

    def known(self, job: str) -> bool:
        return jobs.load(self.redis, job) is not None

    def close(self) -> None:
        """Stop every run: the workers finish what they fetch, their rows are stored."""
        with self._lock:
            self._closed = True
            runs = [run for run in self._runs.values() if run.alive]
        stop_runs(runs, STOP_SECONDS, KILL_SECONDS)

    def stop_now(self) -> None:
        """Stop every run at once (a second stop signal): safe in a signal handler."""
        for run in list(self._runs.values()):
            run.tell(KILL)

    # -- internals -----------------------------------------------------------------------------
    def _busy(self, name: str) -> None:
        run = self._runs.get(name)
        if run is not None and run.alive:
            raise JobBusy(f"job {name!r} is running: stop it first, or give another name")

    def _new_name(self) -> str:
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
        known = set(jobs.names(self.redis))
        name, n = f"job-{stamp}", 1
        while name in known:
            n += 1
            name = f"job-{stamp}-{n}"
        return name

    def _index_settings(self) -> dict[str, Any]:
        """The job writes to the service's index, whatever it wrote to before."""
        return {
            "LINKGRAPH_CLICKHOUSE_URL": hide_password(self.storage.url),
            "LINKGRAPH_DATABASE": self.storage.database,
        }

    def _index(self) -> Any:
        return connect(self.storage, migrate=False)

    def _ended(self, run: JobRun) -> None:
        """Record how the run ended, with its summary, as a crawl's coordinator does."""
        try:
            record_end(self.redis, run.job, self._finish_reason(run))
        except redis.RedisError as exc:
            logger.warning("job %s: its end was not recorded (%s)", run.job, exc)

    def _finish_reason(self, run: JobRun) -> str:
        """Scrapy's finish reason for the run as a whole, from its workers' exit statuses
        (crawler/cli/crawl.py exit_status: 0 finished or stopped, 130 stopped at once)."""
        if any(status == 130 or status < 0 for status in run.statuses):
            return INTERRUPTED
        if self._closed or jobs.state(self.redis, run.job) == jobs.STOPPED:
            return "shutdown"
        if run.statuses and all(status == 0 for status in run.statuses):
            return "finished"
        return "failed"
