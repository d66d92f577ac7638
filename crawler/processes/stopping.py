"""How a crawling process stops: Scrapy's stop signals, relayed to its workers.

Scrapy's CrawlerProcess handles SIGINT and SIGTERM: the first stops the crawl gracefully
(requests in flight finish, every pipeline and the scheduler close, so rows are stored and
leases acknowledged or left out), the second stops the reactor at once. `JobProcess` keeps that,
and adds:

- the coordinator relays each stop to its workers (crawler/processes/workers.py): a SIGTERM sent
  to it alone (Kubernetes, systemd) stops the whole job, not only itself;
- a stop that comes while the crawl is starting (before Scrapy's handlers are installed, or
  before its engine runs) waits for the engine and stops it then: Scrapy would stop the reactor
  under a half-started engine, whose spider is then never closed;
- while the frontier's Redis is unreachable, a stop does not wait out the Redis timeout: calls
  give up a few seconds after it (crawler/frontier/connection.py), so the process can end.

A worker follows its coordinator through its stdin (`follow_coordinator`): "stop" is its first
stop, "kill" its second, and the end of the pipe (the coordinator is gone) is a stop. It starts
with SIGINT ignored, so a terminal's Ctrl-C reaches it through the coordinator until Scrapy's
handlers are installed; after that it gets it directly too (one process group): a stop heard
twice, by signal and by pipe, is still one stop; only a second Ctrl-C forces.

What a forced stop leaves is never lost: rows not yet stored keep their pages' leases, which
come back when the process's heartbeat lapses, or when the job is next started.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable
from typing import Any, cast

from scrapy import signals
from scrapy.crawler import Crawler, CrawlerProcess
from scrapy.settings import Settings
from scrapy.utils.defer import deferred_from_coro
from scrapy.utils.ossignal import install_shutdown_handlers

from crawler.frontier.connection import stop_waiting

STOP, KILL = "stop", "kill"
# Seconds a stopping process still waits for an unreachable Redis before giving up on it.
STOP_GRACE = 3.0


class JobProcess(CrawlerProcess):
    """A CrawlerProcess whose stops (by signal or by its coordinator) are relayed."""

    def __init__(self, settings: Settings, relay: Callable[[str], None] | None = None) -> None:
        super().__init__(settings)
        self.relay = relay
        self.stopped_by: str = ""  # "", STOP or KILL
        self._crawler: Crawler | None = None
        self._lock = threading.Lock()

    def _signal_shutdown(self, signum: int, frame: Any) -> None:
        # Scrapy's first-signal handler, but for the stop itself: Scrapy would stop the reactor
        # as soon as its crawler says it is stopping, which a stop already under way (by the
        # coordinator's pipe) or an engine still starting would make too early, with the spider
        # never closed (rows not handed over, the heartbeat left on). A second signal forces.
        from twisted.internet import reactor

        install_shutdown_handlers(self._signal_kill)
        reactor.callFromThread(self._log_shutdown, signum)
        self.request_stop(STOP)

    def _signal_kill(self, signum: int, frame: Any) -> None:
        self._note(KILL)
        super()._signal_kill(signum, frame)

    def _note(self, how: str) -> None:
        with self._lock:
            if self.stopped_by == KILL or self.stopped_by == how:
                return
            self.stopped_by = how
        stop_waiting(0.0 if how == KILL else STOP_GRACE)
        if self.relay is not None:
            self.relay(how)

    def note_signals_until_started(self, *, sigint: bool = True) -> None:
        """Until Scrapy installs its handlers (once the reactor runs), a stop signal is noted
        and relayed, and the crawl stops as soon as its engine runs (`watch`): raised as a
        KeyboardInterrupt while Twisted and Scrapy start, it could end up in a Deferred.
        A coordinated worker leaves SIGINT ignored meanwhile: the terminal's Ctrl-C reaches
        it through its coordinator (crawler/processes/workers.py)."""

        def note(signum: int, frame: Any) -> None:
            self.request_stop(KILL if self.stopped_by else STOP)

        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, note)
            if sigint:
                signal.signal(signal.SIGINT, note)

    def watch(self, crawler: Crawler) -> None:
        """Let stops asked for by another thread reach `crawler`, even one that came while it
        was starting (Scrapy's own stop does nothing until its engine runs)."""
        self._crawler = crawler
        crawler.signals.connect(self._engine_started, signal=signals.engine_started)

    def _engine_running(self) -> bool:
        engine = self._crawler.engine if self._crawler is not None else None
        return engine is not None and engine.running

    def _engine_started(self) -> None:
        from twisted.internet import reactor

        if self.stopped_by:
            cast(Any, reactor).callLater(0, self._stop_crawl)  # once the engine is running

    def _stop_crawl(self) -> None:
        if self.stopped_by == KILL:
            self._stop_reactor()
            return
        crawler = self._crawler
        if crawler is None or crawler.engine is None or not self._engine_running():
            return
        if crawler.crawling:  # else stopping already (it only starts on the next loop turn)
            crawler.crawling = False
            deferred_from_coro(crawler.engine.stop_async())

    def request_stop(self, how: str) -> None:
        """Stop the crawl (STOP: gracefully; KILL: at once), from a signal handler or another
        thread; if its engine does not run yet, as soon as it does."""
        self._note(how)
        if "twisted.internet.reactor" not in sys.modules:
            # Still starting: importing the reactor here would install Twisted's default one,
            # not the one Scrapy is about to install. `watch` stops the engine once it runs.
            return
        from twisted.internet import reactor

        reactor.callFromThread(self._stop_crawl)


def follow_coordinator(process: JobProcess, fd: int) -> threading.Thread:
    """A worker's side of the relay: read "stop"/"kill" lines from file descriptor `fd` (its
    stdin; read unbuffered, so that a thread still waiting on it cannot stall the exit)."""

    def run() -> None:
        pending = b""
        while chunk := os.read(fd, 64):
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                word = line.strip().decode(errors="replace")
                if word in (STOP, KILL):
                    process.request_stop(word)
        process.request_stop(STOP)  # end of the pipe: the coordinator is gone

    thread = threading.Thread(target=run, name="coordinator", daemon=True)
    thread.start()
    return thread


def interrupt_on_sigterm() -> None:
    """Until Scrapy installs its handlers, a SIGTERM is a KeyboardInterrupt, so that what was
    started (the embedded server, workers) is stopped on the way out."""

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, interrupt)
