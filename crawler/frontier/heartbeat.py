"""A worker's heartbeat: it says the worker is alive, and returns the leases of workers that are
not, and of requests that ran out of time.

Leases are owned by workers (the frontier records who holds each one). A worker whose heartbeat
lapses for WORKER_TIMEOUT seconds (reaping.py) died: the next heartbeat of any live worker
returns its leases at once, as Kafka hands a dead member's partitions over within its session
timeout. The lease deadline (LINKGRAPH_LEASE_SECONDS) is left for a worker that is alive but
hung on one request.

It beats from its own thread, not the reactor's: a reactor busy with a long page or a slow index
is a live worker, and must not look dead (its pages would be fetched twice). A failed beat is
logged in one line, and the next one comes all the same.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from crawler.frontier import Frontier

logger = logging.getLogger(__name__)

# How often a worker says it is alive and returns lost leases (any worker's).
HEARTBEAT_SECONDS = 5.0


class Heartbeat:
    def __init__(self, frontier: Frontier, worker: str, interval: float = HEARTBEAT_SECONDS):
        self.frontier = frontier
        self.worker = worker
        self.interval = interval
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_beat = 0.0  # time.monotonic() of the last beat that reached Redis

    def start(self) -> int:
        """Beat now, then every `interval` seconds; returns how many other workers are alive."""
        others = self.frontier.heartbeat(self.worker)
        self._last_beat = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="heartbeat", daemon=True)
        self._thread.start()
        return others

    def stop(self) -> None:
        self._stopped.set()
        if self._thread is not None:
            self._thread.join(timeout=self.interval + 1)

    def _run(self) -> None:
        while not self._stopped.wait(self.interval):
            self.beat()

    def beat(self) -> None:
        try:
            self.frontier.heartbeat(self.worker)
            now = time.monotonic()
            # After a gap (Redis unreachable, this process frozen), the others' beats may be
            # just as late: wait one more beat before calling anyone dead.
            steady = now - self._last_beat <= 2 * self.interval
            self._last_beat = now
            if steady and not self._stopped.is_set():
                returned = self.frontier.reap()
                if returned:
                    logger.warning("Returned %d requests of dead or hung workers", returned)
        except Exception as exc:  # the next beat may succeed: this loop must not die
            logger.error(
                "heartbeat of %s failed (%s: %s); next try in %gs",
                self.worker,
                type(exc).__name__,
                exc,
                self.interval,
            )
