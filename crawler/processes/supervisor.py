"""Keeps the embedded Valkey server alive for the process that started it.

A thread looks at the server process a few times a second. When it has exited without being
asked to (killed, crashed, out of memory), it is started again at once, from its append-only
file and on the same port, so every client of the job (this process's and its workers') finds
it where it was: their calls wait for it meanwhile (crawler/frontier/connection.py). Nothing it
acknowledged is lost (see crawler/processes/valkey.py on durability).

A server that will not start again (its files are damaged, the port was taken) is tried a few
times, then left down: the crawl then ends after LINKGRAPH_REDIS_TIMEOUT with one line.
"""

from __future__ import annotations

import logging
import threading
import time

from crawler.processes.valkey import EmbeddedValkey

logger = logging.getLogger(__name__)

POLL_SECONDS = 0.2
RESTART_ATTEMPTS = 5  # in a row, a second apart


class Supervisor:
    def __init__(self, server: EmbeddedValkey, poll: float = POLL_SECONDS) -> None:
        self.server = server
        self.poll = poll
        self.restarts = 0
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="valkey-supervisor", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop watching (before the server is shut down on purpose)."""
        self._stopped.set()
        self._thread.join()

    def _run(self) -> None:
        failures = 0
        while not self._stopped.wait(self.poll):
            status = self.server.exit_status()
            if status is None and self.server.process is not None:
                continue  # alive
            if failures >= RESTART_ATTEMPTS:
                continue  # left down: the crawl's clients give up after their timeout
            logger.warning(
                "the embedded Valkey server exited (status %s): restarting it from its "
                "append-only file on %s",
                status,
                self.server.url,
            )
            started = time.monotonic()
            try:
                self.server.restart()
            except Exception as exc:  # whatever stops it: try again, then give up
                failures += 1
                logger.error("cannot restart the embedded Valkey server: %s", exc)
                self._stopped.wait(1.0)
                continue
            failures = 0
            self.restarts += 1
            logger.warning("the embedded Valkey server is back after %.1f s",
                           time.monotonic() - started)  # fmt: skip
