"""The queues between the reactor and a worker's frontier thread, and the reactor's calls on them.

The reactor queues script calls (releases, adds of a page's links, mark_done) for the thread's
next round trip, and takes requests from the buffer of entries the thread leased ahead. The
thread that serves both is `FrontierThread`, built on `PrefetchQueues`, in
crawler/frontier/prefetch.py, which says why it exists and how it keeps politeness and leases
exact.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from crawler.frontier import scripts

if TYPE_CHECKING:
    from crawler.frontier import Entry, Frontier
    from crawler.frontier.partitions import Call

# Longest wait before another pop when nothing was due: a host may be released, or links
# queued, by another worker meanwhile.
IDLE_POP_SECONDS = 0.5
# Shortest: a host may be due yet not poppable (a page budget spent), and Redis must not be
# asked again at once.
MIN_IDLE_POP_SECONDS = 0.05
# A buffered entry not taken after this share of a lease goes back to its queue: the rest of the
# lease is the margin before a reaper could return it (and its host be let out again).
MAX_HOLD_SHARE = 0.25


@dataclass
class _Op:
    """Script calls queued by the reactor, and what to do with their replies (in the thread)."""

    calls: list[Call]
    done: Callable[[list[Any]], object] | None = None
    failed: Callable[[BaseException], None] | None = None  # called on the reactor
    replies: list[Any] = field(default_factory=list)
    page: str = ""  # a release's: the fingerprint of the page whose host's turn it ends


class PrefetchQueues:
    """The calls queued for the frontier and the entries leased ahead, under one lock; the
    thread that sends the one and fills the other is `FrontierThread` (prefetch.py)."""

    def __init__(
        self,
        frontier: Frontier,
        size: int,
        *,
        to_reactor: Callable[..., Any],
        on_ready: Callable[[], None],
        on_error: Callable[[BaseException], None],
    ) -> None:
        self.frontier = frontier
        self.size = size  # entries buffered at most
        # seconds an entry waits in the buffer at most (see MAX_HOLD_SHARE)
        self.max_hold = max(frontier.lease_seconds * MAX_HOLD_SHARE, MIN_IDLE_POP_SECONDS)
        self.worker = ""
        self.next_due: float | None = None  # when the buffer is empty: when a host is due
        # Nothing is leased ahead before the first request is asked for (a run's start takes
        # back what a previous one left first), nor while the job is not running.
        self.popping = False
        self._to_reactor = to_reactor  # runs a call on the reactor thread
        self._on_ready = on_ready
        self._on_error = on_error
        # buffered entries, oldest first, each with the time.monotonic() of its pop
        self._buffer: collections.deque[tuple[Entry, float]] = collections.deque()
        self._giving_back = False  # the whole buffer goes back with the next round trip
        self._ops: list[_Op] = []
        self._sending = False
        self._pop_at = 0.0  # monotonic time of the next pop worth trying
        self._cond = threading.Condition()
        self._stopped = False
        self._error: BaseException | None = None
        self._unreleased: set[str] = set()  # pages whose release failed or was never sent
        self._thread: threading.Thread | None = None

    # -- the reactor's side --------------------------------------------------------------------
    def take(self) -> Entry | None:
        with self._cond:
            if self._error is not None:
                return None  # the worker is stopping: nothing more is started
            entry = self._buffer.popleft()[0] if self._buffer else None
            if len(self._buffer) < self.size // 2:
                self._cond.notify()
            return entry

    def busy(self) -> bool:
        """Something is buffered, or not yet sent to the frontier. (A pop under way is not: it
        leases only what is queued, and what it leased counts in Frontier.has_work.)"""
        with self._cond:
            return bool(self._buffer or self._ops or self._sending)

    def unreleased(self) -> set[str]:
        with self._cond:
            return set(self._unreleased)

    def send(
        self,
        calls: list[Call],
        done: Callable[[list[Any]], object] | None = None,
        failed: Callable[[BaseException], None] | None = None,
        page: str = "",
    ) -> None:
        """Queue script calls: their replies go to `done`, called in this thread; a frontier
        error to `failed`, on the reactor. `page`: a release's (see `unreleased_pages`)."""
        with self._cond:
            if self._error is not None:
                if page:
                    self._unreleased.add(page)
                if failed is not None:
                    self._to_reactor(failed, self._error)
                return
            self._ops.append(_Op(calls, done, failed, page=page))
            self._pop_at = 0.0  # a release or new links may make a host due
            self._cond.notify()

    def release(
        self, host: str, done: Callable[[int], None] | None = None, page: str = "", **how: Any
    ) -> None:
        """Frontier.release, queued, ending the turn of `page` (its fingerprint); `done` gets
        the host's consecutive failures."""
        args = [host, time.time(), self.frontier.delay, how.get("backoff", 0.0),
                int(how.get("failed", False)), how.get("park_after", 0),
                how.get("park_seconds", 60.0), how.get("latency", 0.0)]  # fmt: skip
        call: Call = (self.frontier.partitions.of_host(host), scripts.RELEASE, args)
        self.send([call], None if done is None else lambda replies: done(int(replies[0])),
                  page=page)  # fmt: skip

    def add(
        self,
        items: Iterable[tuple[str, int]],
        done: Callable[[], None],
        failed: Callable[[BaseException], None],
    ) -> None:
        """Frontier.add, queued; `done` is called on the reactor once it is sent."""
        calls = self.frontier.add_calls(items)
        if not calls:
            done()
            return
        self.send(calls, lambda _: self._to_reactor(done), failed)

    def mark_done(self, fingerprints: Iterable[str]) -> None:
        """Frontier.mark_done, queued."""
        groups = self.frontier.partitions.by_fingerprint(list(fingerprints))
        self.send([(p, scripts.MARK_DONE, [self.worker, *fps]) for p, fps in groups.items()])

    def give_back(self) -> None:
        """Return the buffered entries' leases with the next round trip (the job or the engine
        paused): nothing waits leased. Called with popping off, so a pop under way is given
        back too: the thread sees this only once that pop's entries are buffered."""
        with self._cond:
            self._giving_back = True
            self._cond.notify()

    def set_popping(self, popping: bool) -> None:
        with self._cond:
            self.popping = popping
            self._cond.notify()
