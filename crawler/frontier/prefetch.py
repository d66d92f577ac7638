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

The queues the reactor shares with the thread, and the reactor's calls on them, are in
crawler/frontier/prefetch_queues.py; this module is the thread that serves them, and how the
crawler's components reach it (`frontier_thread_for`, `unreleased_pages`).
"""

from __future__ import annotations

import threading
import time
import weakref
from typing import TYPE_CHECKING

from crawler.frontier import scripts
from crawler.frontier.prefetch_queues import (
    IDLE_POP_SECONDS,
    MIN_IDLE_POP_SECONDS,
    PrefetchQueues,
    _Op,
)
from crawler.urls import host_of

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

    from crawler.frontier import Entry, Frontier
    from crawler.frontier.partitions import Call

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


class FrontierThread(PrefetchQueues):
    """The thread itself: each round trip sends what the reactor queued, gives back what was
    held too long, and pops ahead into the buffer."""

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
