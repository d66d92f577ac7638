"""A worker's frontier thread (LINKGRAPH_FRONTIER_THREAD): its Redis round trips, off the reactor.

Every frontier call made from the reactor blocks it for a round trip, so a worker far from its
Redis server spends its time waiting. This thread takes the per-page calls over: the reactor
queues releases, adds of a page's links and mark_done, and takes requests from a small buffer
that the thread keeps filled. Each round trip sends everything queued since the last one, in
the order it was queued, with the next pop behind it (Frontier.pop_after), so:
- politeness stays exact: a host's release reaches Redis before any later pop, and the frontier
  lets a host out only once it is released and due;
- buffered entries are leased to this worker like those in flight, and nothing renews them, so
  none waits in the buffer long enough to lose its lease (the reaper would hand its page out
  again while this worker still holds it): those not taken after a quarter of a lease go back
  to the head of their queues, un-fetched and not counted as lost. So do all of them, at once,
  when the engine pauses (a full spool), the job pauses, or the crawl ends; nothing is leased
  ahead again until the engine asks for requests.
A frontier error in the thread reaches the reactor, which stops the worker as before (an outage
is first waited out by the client, as crawler/frontier/connection.py says). A page whose release
failed (or was never sent) has its host's turn still open in the frontier: like the request in
hand when a call on the reactor fails, it is not recorded (crawler/recorder.py asks
`unreleased_pages`), keeps its lease, and is fetched again when the job resumes.
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
from crawler.urls import host_of

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
# A buffered entry not taken after this share of a lease goes back to its queue: the rest of the
# lease is the margin before a reaper could return it (and its host be let out again).
MAX_HOLD_SHARE = 0.25

# The thread of each frontier (one per crawler), shared by the scheduler and the components that
# release, add and mark done.
_threads: weakref.WeakKeyDictionary[Frontier, FrontierThread] = weakref.WeakKeyDictionary()


def unreleased_pages(frontier: Frontier) -> set[str]:
    """Fingerprints of the pages whose host release failed in the frontier's thread (none
    without a thread, or before a frontier error)."""
    thread = _threads.get(frontier)
    return set() if thread is None else thread.unreleased()


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
    page: str = ""  # a release's: the fingerprint of the page whose host's turn it ends


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
        left = [entry for entry, _ in self._buffer]
        self._buffer.clear()
        return left

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

    # -- the thread ----------------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._ready():
                    self._cond.wait(self._wait_seconds())
                if (self._stopped and not self._ops) or self._error is not None:
                    return
                ops, self._ops = self._ops, []
                back = [] if self._stopped else self._held_too_long()  # stop() hands them over
                if back:
                    ops.append(_Op(self._return_calls(back)))
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
                    # known before the reactor hears of the error, so before it records pages
                    self._unreleased.update(op.page for op in ops if op.page)
                self._to_reactor(self._on_error, exc)
                for op in ops:
                    if op.failed is not None:
                        self._to_reactor(op.failed, exc)
                return

    def _wanted(self) -> bool:
        return self.popping and len(self._buffer) < self.size // 2 + 1

    def _ready(self) -> bool:
        if self._stopped or self._error is not None or self._ops or self._giving_back:
            return True
        now = time.monotonic()
        if self._buffer and now >= self._buffer[0][1] + self.max_hold:
            return True
        return self._wanted() and now >= self._pop_at

    def _wait_seconds(self) -> float | None:
        """Until the next pop worth trying, or the oldest entry's hold runs out (None: until
        notified)."""
        deadlines = [self._pop_at] if self._wanted() else []
        if self._buffer:
            deadlines.append(self._buffer[0][1] + self.max_hold)
        if not deadlines:
            return None
        return max(min(deadlines) - time.monotonic(), 0.001)

    def _held_too_long(self) -> list[Entry]:
        """Take out of the buffer what goes back to the frontier: all of it when given back,
        else the entries held for max_hold. (Under the lock: an entry is taken or returned.)"""
        if self._giving_back:
            self._giving_back = False
            back = [entry for entry, _ in self._buffer]
            self._buffer.clear()
            return back
        back = []
        held_since = time.monotonic() - self.max_hold
        while self._buffer and self._buffer[0][1] <= held_since:
            back.append(self._buffer.popleft()[0])
        return back

    def _return_calls(self, entries: list[Entry]) -> list[Call]:
        """Frontier.return_leases's calls: the entries go back first in their host queues, due
        now, their leases ended without counting as lost."""
        now = time.time()
        groups = self.frontier.partitions.by_host((host_of(e.url), e) for e in entries)
        return [
            (partition, scripts.RETURN_LEASES,
             [now, *(v for entry in group for v in (entry.fp, host_of(entry.url)))])
            for partition, group in groups.items()
        ]  # fmt: skip

    def _send(self, ops: list[_Op], want: int) -> None:
        popped_at = time.monotonic()  # no later than the leases' start
        calls = [call for op in ops for call in op.calls]
        replies, popped = self.frontier.pop_after(calls, want, self.worker)
        at = 0
        for op in ops:
            op.replies, at = replies[at : at + len(op.calls)], at + len(op.calls)
        for op in ops:  # before the entries are handed out: a host dropped must be seen so
            if op.done is not None:
                op.done(op.replies)
        with self._cond:
            self._buffer.extend((entry, popped_at) for entry in popped.entries)
            self._sending = False
            self.next_due = popped.next_due
            if want and not popped.entries:  # nothing due: look again when a host is
                due = popped.next_due or time.time() + IDLE_POP_SECONDS
                delay = min(max(due - time.time(), MIN_IDLE_POP_SECONDS), IDLE_POP_SECONDS)
                self._pop_at = time.monotonic() + delay
        if popped.entries:
            self._to_reactor(self._on_ready)
