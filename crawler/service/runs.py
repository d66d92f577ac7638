"""One run of a job in the service: its worker processes, and, when the index is the service's
embedded chDB, the thread that stores the rows they hand over.

Every crawling process of a service's job is a `linkgraph worker` (crawler/cli/jobs.py) that
follows the service on its stdin, as the workers of `linkgraph crawl --workers N` follow their
coordinator (crawler/processes/workers.py). chDB allows one process per data directory, so the
workers of an embedded job hand their batches over through the job's Redis stream
(crawler/handoff.py), and the run's thread drains it into the index (crawler/stream_consumer.py),
as a coordinator's pipeline does: a batch leaves the stream only once stored, and its pages'
leases end then. With a ClickHouse server, the workers write to it themselves and the thread
only waits for them.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import redis

from crawler import jobs
from crawler.frontier import Frontier
from crawler.processes.stopping import KILL, STOP
from crawler.processes.workers import WorkerGroup
from crawler.sinks import ClickHouseSink
from crawler.storage import first_line
from crawler.stream_consumer import StreamConsumer

if TYPE_CHECKING:
    from clickhouse_connect.driver.client import Client

logger = logging.getLogger(__name__)

POLL_MS = 200  # how long one read of the stream waits for a batch
RETRY_SECONDS = 2.0  # after a batch could not be stored: read the unacknowledged ones again


class JobRun:
    """The workers of one run of `job`, until they have all exited and their rows are stored."""

    def __init__(
        self,
        job: str,
        client: redis.Redis,
        index: Client | None,
        on_end: Callable[[JobRun], None],
    ) -> None:
        self.job = job
        self.client = client
        self.workers = WorkerGroup()
        # The embedded index's client this run stores handed-over rows with (None: a server).
        self.sink = ClickHouseSink(index) if index is not None else None
        self.on_end = on_end
        self.statuses: list[int] = []  # the workers' exit statuses, once ended
        # The service records the run's end (`on_end`): until then the job is not interrupted.
        self.owner = jobs.RunOwner(client, job)
        self._ended = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"run-{job}", daemon=True)

    def start(self) -> None:
        self.owner.start()
        self._thread.start()

    @property
    def alive(self) -> bool:
        return not self._ended.is_set()

    def tell(self, word: str) -> None:
        """Relay STOP (finish what is in flight, hand the rows over) or KILL to the workers."""
        self.workers.tell(word)

    def wait(self, seconds: float) -> bool:
        """Wait up to `seconds` for the run to end; True if it has."""
        return self._ended.wait(seconds)

    def kill(self) -> None:
        """The last resort at shutdown: what they leased comes back when the job resumes."""
        for proc in self.workers.procs:
            if proc.poll() is None:
                proc.kill()

    def _running(self) -> bool:
        return any(proc.poll() is None for proc in self.workers.procs)

    def _run(self) -> None:
        try:
            consumer = self._consumer()
            while self._running():
                consumer = self._drain(consumer, POLL_MS)
            while consumer is not None and consumer.drain(block_ms=10):
                pass  # what the last workers handed over on their way out
        except Exception as exc:  # the run ends; what is not stored stays in the stream
            logger.error("job %s: rows not stored: %s", self.job, first_line(str(exc)))
        finally:
            self.statuses = self.workers.reap(forced=True)  # all have exited, or been killed
            if self.sink is not None:
                self.sink.close()
            try:
                self.on_end(self)  # before the run counts as ended: the service waits for it
            finally:
                self.owner.stop()
                self._ended.set()

    def _consumer(self) -> StreamConsumer | None:
        if self.sink is None:
            return None
        frontier = Frontier(self.client, self.job)
        return StreamConsumer(self.client, frontier.keys.rows, self.sink, frontier)

    def _drain(self, consumer: StreamConsumer | None, block_ms: int) -> StreamConsumer | None:
        if consumer is None:
            time.sleep(block_ms / 1000)
            return None
        try:
            consumer.drain(block_ms=block_ms)
            return consumer
        except redis.RedisError:
            raise  # Redis gone for good (its client already waited): the workers give up too
        except Exception as exc:
            # The batch stays unacknowledged in the stream, as do its pages' leases: a new
            # consumer reads it again first.
            logger.warning("job %s: a batch was not stored (%s): trying again",
                           self.job, first_line(str(exc)))  # fmt: skip
            time.sleep(RETRY_SECONDS)
            return self._consumer()


def stop_runs(runs: list[JobRun], seconds: float, kill_seconds: float) -> None:
    """Stop every run: gracefully for up to `seconds`, then at once, then by force."""
    for run in runs:
        run.tell(STOP)
    deadline = time.monotonic() + seconds
    for run in runs:
        run.wait(max(0.0, deadline - time.monotonic()))
    late = [run for run in runs if run.alive]
    for run in late:
        run.tell(KILL)
    deadline = time.monotonic() + kill_seconds
    for run in late:
        if not run.wait(max(0.0, deadline - time.monotonic())):
            run.kill()
            with contextlib.suppress(Exception):
                run.wait(kill_seconds)
