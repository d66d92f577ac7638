"""Records batches of rows in the index, and rides out index outages with the on-disk spool.

While the index takes inserts, a batch is stored and then its pages' frontier leases end. When
an insert fails (the server is unreachable, the disk is full, ...) the batch goes to the spool
(crawler/spool.py), and so does every later batch, behind it, until the spool is empty again:
`replay` retries the oldest with back-off and stores them in order, each with its own
deduplication token, so a batch whose insert did land before the failure adds nothing.

Nothing is acknowledged early: a spooled page keeps its lease until its rows are stored, and
`renew` (crawler/renewal.py's thread) restarts the leases of every page this process holds, so
an outage longer than LINKGRAPH_LEASE_SECONDS does not hand them to another worker. Should a
lease go back to the frontier all the same (this process cut off from Redis for longer than a
lease), the next renewal notices: the page is taken back if it is still queued, else its rows
are left out of the replay, since whoever fetches it again records it.

A spool left by a process that died is taken over by the next one (see `take_back`). Its
pages' leases may have been returned meanwhile (a new run returns the leases of a stopped job
before it starts, a live worker those of a dead one). A page is taken back if it is still
leased no later than the dead process last renewed it, or returned and still queued; its rows
are then replayed. A page that is neither was recorded already (its batch was stored, and the
process died before dropping it) or is being fetched again by another worker: its rows are
dropped from the replay, so the index holds one row per fetch of it either way. The one case
left: a lease handed out again while its holder was cut off from Redis, when the holder dies
before its replay. The next run may then take the page back, and it may be recorded twice.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

from crawler.frontier import Entry, Frontier
from crawler.frontier.prefetch import unreleased_pages
from crawler.handoff import StreamSink
from crawler.jobstats import tallies
from crawler.rows import Batch
from crawler.sinks import retrying, unanswered
from crawler.storage import first_line

if TYPE_CHECKING:
    from crawler.sinks import Sink
    from crawler.spool import Spool

logger = logging.getLogger(__name__)

FIRST_RETRY_SECONDS = 1.0  # the first replay after an outage starts; doubles after each failure
MAX_RETRY_SECONDS = 30.0


class HeldLeases:
    """Fingerprints of the pages whose rows this process holds (buffered, being written,
    spooled, or handed over and not yet stored): the leases `renew` keeps alive."""

    def __init__(self) -> None:
        self._fps: set[str] = set()
        self._lock = threading.Lock()

    def add(self, fps: Iterable[str]) -> None:
        with self._lock:
            self._fps.update(fps)

    def discard(self, fps: Iterable[str]) -> None:
        with self._lock:
            self._fps.difference_update(fps)

    def snapshot(self) -> list[str]:
        with self._lock:
            return list(self._fps)


class Recorder:
    def __init__(self, sink: Sink, spool: Spool, frontier: Frontier, where: str) -> None:
        self.sink = sink
        self.spool = spool
        self.frontier = frontier
        self.where = where  # the index, as logged
        self.held = HeldLeases()
        self._outage_since: float | None = None
        self._spooled = 0  # batches spooled in this outage
        self._wait = FIRST_RETRY_SECONDS
        self._next_try = 0.0
        self._returned: set[str] = set()  # spooled pages whose leases were returned (renew)
        self._renewed: set[str] = set()  # the leases the last renewal restarted, and when
        self._renewed_at = 0.0
        self._lock = threading.Lock()

    def record(self, batch: Batch) -> None:
        """Store the batch, or spool it (behind the batches waiting already)."""
        unreleased = unreleased_pages(self.frontier).intersection(batch.fingerprints)
        if unreleased:
            # The frontier thread failed to end their hosts' turns: like the request in hand
            # when the frontier fails, they are not recorded and keep their leases, so the
            # job's resume hands them out again (and their hosts with them).
            self.held.discard(unreleased)
            batch = kept_part(batch, set(batch.fingerprints) - unreleased)
            if not batch.pages:
                return
        self.held.add(batch.fingerprints)  # a handed-over batch: held from now on
        if not len(self.spool):
            try:
                self.sink.store(batch)
            except Exception as exc:
                self._failed(exc)
            else:
                self._stored(batch, spooled=False)
                return
        self.spool.append(batch)
        self._spooled += 1

    def replay_due(self) -> bool:
        return bool(len(self.spool)) and time.monotonic() >= self._next_try

    def replay(self) -> None:
        """Store the spooled batches, oldest first, until one fails or none is left."""
        while (batch := self.spool.head()) is not None:
            batch = self._without_returned(batch)
            if not batch.pages:
                self.spool.pop()
                continue
            try:
                self.sink.store(batch)
            except Exception as exc:
                self._failed(exc)
                return
            self._stored(batch, spooled=True)
            self.spool.pop()
        if self._outage_since is not None:
            logger.warning(
                "%s takes rows again after %.0f s: replayed %d spooled batches in order",
                self.where,
                time.monotonic() - self._outage_since,
                self._spooled,
            )
        self._outage_since, self._spooled, self._wait = None, 0, FIRST_RETRY_SECONDS

    def take_back(self) -> int:
        """Adopt the batches a previous process left in this spool (see the module's doc):
        keep the rows of the pages taken back, drop the others. Returns the batches kept."""
        for seq, batch in list(self.spool.batches()):
            pages = zip(batch.fingerprints, batch.pages, strict=True)
            entries = [Entry(fp, page.depth, page.url) for fp, page in pages]
            claimed = self.frontier.claim(entries, self.spool.left_at)
            if len(claimed) < len(entries):
                batch = kept_part(batch, claimed)
                self.spool.replace(seq, batch if batch.pages else None)
            self.held.add(claimed)
        self._spooled = len(self.spool)
        if self._spooled:
            self._outage_since = time.monotonic()
            logger.warning(
                "%d batches left in the spool %s by an earlier run: storing them before new rows",
                self._spooled,
                self.spool.directory,
            )
        return self._spooled

    def renew(self) -> None:
        """Keep the leases of the held pages alive; forget those no longer this process's (a
        hand-off's batch the index owner has stored, a lease that went back to the frontier)."""
        if isinstance(self.sink, StreamSink):  # the index owner holds what it took over
            self.held.discard(self.sink.taken())
        now = time.time()
        held = self.held.snapshot()
        gone = self.frontier.renew(held, now, self._renewed, self._renewed_at)
        self.spool.mark(now)  # no lease of a spooled page is newer, unless someone else's
        self.held.discard(gone)
        self._renewed, self._renewed_at = set(held).difference(gone), now
        if gone and self.sink.durable:
            # Not acknowledged here, yet not ours any more: returned to the frontier (this
            # process could not renew them in time), maybe handed out again already.
            with self._lock:
                self._returned.update(gone)

    def _without_returned(self, batch: Batch) -> Batch:
        """The batch without the pages whose leases went back to the frontier and were handed
        out again: they are recorded when fetched again. Those still queued are taken back."""
        with self._lock:
            returned = self._returned.intersection(batch.fingerprints)
            self._returned.difference_update(returned)
        if not returned:
            return batch
        pages = dict(zip(batch.fingerprints, batch.pages, strict=True))
        entries = [Entry(fp, pages[fp].depth, pages[fp].url) for fp in returned]
        claimed = self.frontier.claim(entries, before=0.0)  # only what is still queued
        self.held.add(claimed)
        lost = returned - claimed
        if not lost:
            return batch
        logger.warning(
            "%d spooled pages lost their leases before the index was back: they are fetched "
            "again, and their spooled rows are left out",
            len(lost),
        )
        kept = kept_part(batch, set(batch.fingerprints) - lost)
        self.spool.replace_head(kept)  # what a later replay, or the next run, finds
        return kept

    def _stored(self, batch: Batch, *, spooled: bool) -> None:
        if not self.sink.durable:
            return  # handed over: held until the index owner takes it (see `renew`)
        try:
            counted = tallies(batch)
            retrying(lambda: self.frontier.ack(batch.fingerprints, unanswered(batch), counted))
        except Exception:
            if not spooled:  # stored but still leased: the next run acknowledges it (take_back)
                self.spool.append(batch)
            raise
        self.held.discard(batch.fingerprints)

    def _failed(self, exc: Exception) -> None:
        now = time.monotonic()
        if self._outage_since is None:
            self._outage_since = now
            logger.warning(
                "cannot store rows in %s (%s): keeping them in the spool %s until it is back",
                self.where,
                first_line(str(exc)),
                self.spool.directory,
            )
        else:
            self._wait = min(self._wait * 2, MAX_RETRY_SECONDS)
        self._next_try = now + self._wait


def kept_part(batch: Batch, keep: set[str]) -> Batch:
    """The rows of the pages in `keep`, with the batch's own token: should the whole batch's
    insert have landed before (a failure after it, a crash before its acknowledgement), the
    part adds nothing; if it did not, the part is stored, once however often it is retried."""
    fps = [fp for fp in batch.fingerprints if fp in keep]
    pages = [page for fp, page in zip(batch.fingerprints, batch.pages, strict=True) if fp in keep]
    fetches = {(page.url, page.fetched_at) for page in pages}
    links = [link for link in batch.links if (link.src_url, link.fetched_at) in fetches]
    return Batch(pages, links, fps, batch.token)
