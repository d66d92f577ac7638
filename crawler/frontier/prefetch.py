"""A worker's frontier thread (LINKGRAPH_FRONTIER_THREAD): its Redis round trips, off the reactor.

Every frontier call made from the reactor blocks it for a round trip, so a worker far from its
Redis server spends its time waiting. This thread takes the per-page calls over: the reactor
queues releases, adds of a page's links and mark_done, and takes requests from a small buffer
that the thread keeps filled. Each round trip sends everything queued since the last one, in
the order it was queued, with the next pop behind it (Frontier.pop_after), so:
- politeness stays exact: a host's release reaches Redis before any later pop, and the frontier
  lets a host out only once it is released and due;
- buffered entries are leased to this worker like those in flight (its heartbeat keeps them);
  when the crawl ends or the job pauses, those not started go back to the head of their queues.
A frontier error in the thread reaches the reactor, which stops the worker as before (an outage
is first waited out by the client, as crawler/frontier/connection.py says).
"""

from __future__ import annotations

import collections
import threading
import time
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from crawler.frontier import scripts

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

    from crawler.frontier import Entry, Frontier
    from crawler.frontier.frontier import Call

# Longest wait before another pop when nothing was due: a host may be released, or links
# queued, by another worker meanwhile.
IDLE_POP_SECONDS = 0.5
# Shortest: a host may be due yet not poppable (a page budget spent), and Redis must not be
# asked again at once.
MIN_IDLE_POP_SECONDS = 0.05

# The thread of each frontier (one per crawler), shared by the scheduler and the components that
# release, add and mark done.
_threads: weakref.WeakKeyDictionary[Frontier, FrontierThread] = weakref.WeakKeyDictionary()


def frontier_thread_for(crawler: Crawler) -> FrontierThread | None:
    """The crawler's frontier thread; None when LINKGRAPH_FRONTIER_THREAD is off."""
    from twisted.internet import reactor

    from crawler.failures import stop_for_frontier_error
    from crawler.frontier import frontier_for

    if not crawler.settings.getbool("LINKGRAPH_FRONTIER_THREAD"):
        return None
    frontier = frontier_for(crawler)
    thread = _threads.get(frontier)
    if thread is None:

        def wake() -> None:
            slot = getattr(crawler.engine, "_slot", None)
            if slot is not None:
                slot.nextcall.schedule()

        size = max(1, crawler.settings.getint("CONCURRENT_REQUESTS") // 4)
        thread = _threads[frontier] = FrontierThread(
            frontier,
            size,
            to_reactor=reactor.callFromThread,
            on_ready=wake,
            on_error=lambda exc: stop_for_frontier_error(crawler, exc),
        )
    return thread


@dataclass
class _Op:
    """Script calls queued by the reactor, and what to do with their replies (in the thread)."""

    calls: list[Call]
    done: Callable[[list[Any]], object] | None = None
    failed: Callable[[BaseException], None] | None = None  # called on the reactor
    replies: list[Any] = field(default_factory=list)


class FrontierThread:
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
        self.worker = ""
        self.next_due: float | None = None  # when the buffer is empty: when a host is due
        # Nothing is leased ahead before the first request is asked for (a run's start takes
        # back what a previous one left first), nor while the job is not running.
        self.popping = False
        self._to_reactor = to_reactor  # runs a call on the reactor thread
        self._on_ready = on_ready
        self._on_error = on_error
        self._buffer: collections.deque[Entry] = collections.deque()
        self._ops: list[_Op] = []
        self._sending = False
        self._pop_at = 0.0  # monotonic time of the next pop worth trying
        self._cond = threading.Condition()
        self._stopped = False
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None

    def start(self, worker: str) -> None:
        self.worker = worker
        self._thread = threading.Thread(target=self._run, name="frontier", daemon=True)
        self._thread.start()

    def stop(self) -> list[Entry]:
        """Send what is queued, stop, and return the buffered entries (the caller returns their
        leases: none of them was started)."""
        with self._cond:
            self._stopped = True
            self._cond.notify()
        if self._thread is not None:
            self._thread.join()
        left = list(self._buffer)
        self._buffer.clear()
        return left

    # -- the reactor's side --------------------------------------------------------------------
    def take(self) -> Entry | None:
        with self._cond:
            if self._error is not None:
                return None  # the worker is stopping: nothing more is started
            entry = self._buffer.popleft() if self._buffer else None
            if len(self._buffer) < self.size // 2:
                self._cond.notify()
            return entry

    def busy(self) -> bool:
        """Something is buffered, or not yet sent to the frontier. (A pop under way is not: it
        leases only what is queued, and what it leased counts in Frontier.has_work.)"""
        with self._cond:
            return bool(self._buffer or self._ops or self._sending)

    def send(
        self,
        calls: list[Call],
        done: Callable[[list[Any]], object] | None = None,
        failed: Callable[[BaseException], None] | None = None,
    ) -> None:
        """Queue script calls: their replies go to `done`, called in this thread; a frontier
        error to `failed`, on the reactor."""
        with self._cond:
            if self._error is not None:
                if failed is not None:
                    self._to_reactor(failed, self._error)
                return
            self._ops.append(_Op(calls, done, failed))
            self._pop_at = 0.0  # a release or new links may make a host due
            self._cond.notify()

    def release(self, host: str, done: Callable[[int], None] | None = None, **how: Any) -> None:
        """Frontier.release, queued; `done` gets the host's consecutive failures."""
        args = [host, time.time(), self.frontier.delay, how.get("backoff", 0.0),
                int(how.get("failed", False)), how.get("park_after", 0),
                how.get("park_seconds", 60.0), how.get("latency", 0.0)]  # fmt: skip
        call: Call = (self.frontier.partitions.of_host(host), scripts.RELEASE, args)
        self.send([call], None if done is None else lambda replies: done(int(replies[0])))

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
        """Return the buffered entries' leases (the job paused): nothing waits leased."""
        with self._cond:
            entries = list(self._buffer)
            self._buffer.clear()
        if entries:
            self.send([], lambda _: self.frontier.return_leases(entries))

    def set_popping(self, popping: bool) -> None:
        with self._cond:
            self.popping = popping
            self._cond.notify()

    # -- the thread ----------------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._ready():
                    wait = self._pop_at - time.monotonic()
                    self._cond.wait(wait if self.popping and wait > 0 else None)
                if (self._stopped and not self._ops) or self._error is not None:
                    return
                ops, self._ops = self._ops, []
                want = 0 if self._stopped or not self.popping else self.size - len(self._buffer)
                self._sending = bool(ops)
            try:
                self._send(ops, want)
            except Exception as exc:
                with self._cond:
                    self._error = exc
                    self._sending = False
                    ops += self._ops
                    self._ops = []
                self._to_reactor(self._on_error, exc)
                for op in ops:
                    if op.failed is not None:
                        self._to_reactor(op.failed, exc)
                return

    def _ready(self) -> bool:
        if self._stopped or self._error is not None or self._ops:
            return True
        wanted = self.popping and len(self._buffer) < self.size // 2 + 1
        return wanted and time.monotonic() >= self._pop_at

    def _send(self, ops: list[_Op], want: int) -> None:
        calls = [call for op in ops for call in op.calls]
        replies, popped = self.frontier.pop_after(calls, want, self.worker)
        at = 0
        for op in ops:
            op.replies, at = replies[at : at + len(op.calls)], at + len(op.calls)
        for op in ops:  # before the entries are handed out: a host dropped must be seen so
            if op.done is not None:
                op.done(op.replies)
        with self._cond:
            self._buffer.extend(popped.entries)
            self._sending = False
            self.next_due = popped.next_due
            if want and not popped.entries:  # nothing due: look again when a host is
                due = popped.next_due or time.time() + IDLE_POP_SECONDS
                delay = min(max(due - time.time(), MIN_IDLE_POP_SECONDS), IDLE_POP_SECONDS)
                self._pop_at = time.monotonic() + delay
        if popped.entries:
            self._to_reactor(self._on_ready)
