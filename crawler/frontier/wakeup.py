"""Waking the engine when the next host is due.

Scrapy asks the scheduler for requests when a download ends, and otherwise only on a 5-second
heartbeat. When every queued host is waiting out its politeness delay we know exactly when the
next one is due, so we wake the engine then instead of idling until the heartbeat.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

# Never sleep longer than this between looks at the frontier: another worker (or this one's
# pipeline) may queue a host that is due sooner.
MAX_WAKE_INTERVAL = 0.5


class EngineWakeUp:
    """The one wake-up call the scheduler has set on the reactor, if any."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self._call: Any = None

    def at(self, due: float) -> None:
        """Wake the engine at `due` (a time.time()), or in MAX_WAKE_INTERVAL if sooner."""
        from twisted.internet import reactor

        wait = min(max(due - time.time(), 0.0), MAX_WAKE_INTERVAL)
        call = self._call
        if call is not None and call.active():
            if call.getTime() - time.time() <= wait:
                return  # an earlier wake-up is already set
            call.cancel()
        self._call = cast(Any, reactor).callLater(wait, self._wake)

    def cancel(self) -> None:
        if self._call is not None and self._call.active():
            self._call.cancel()

    def _wake(self) -> None:
        slot = getattr(self.crawler.engine, "_slot", None)
        if slot is not None:
            slot.nextcall.schedule()
