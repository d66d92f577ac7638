"""Keeps the frontier leases of the pages a process holds alive while their rows wait for the
index (buffered, being written, spooled through an outage, or handed to the index owner).

It renews from its own thread, not the reactor's: the reactor may be waiting for a write, and
an outage may last longer than LINKGRAPH_LEASE_SECONDS. A failed renewal is logged once, and the
next one comes all the same.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from crawler.recorder import Recorder

logger = logging.getLogger(__name__)

# Leases are renewed this many times per lease period, so one late renewal loses none.
RENEWALS_PER_LEASE = 4


class LeaseRenewal:
    def __init__(self, recorder: Recorder, lease_seconds: float) -> None:
        self.recorder = recorder
        self.interval = max(lease_seconds / RENEWALS_PER_LEASE, 0.1)
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="lease-renewal", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        failing = False
        while not self._stopped.wait(self.interval):
            try:
                self.recorder.renew()
            except Exception as exc:  # Redis is down: the frontier's own errors stop the crawl
                if not failing:
                    logger.warning("cannot renew the leases of held pages: %s", exc)
                failing = True
            else:
                failing = False
