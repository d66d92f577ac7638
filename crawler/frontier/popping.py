"""Leasing due entries to workers: each pop takes up to `count` entries, each from a different
host that is due now, from the job's partitions in turn (a fair round robin), within the job's
page budget. `Frontier` pops through a `Popper` built with it."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import redis

from crawler.frontier import budget, scripts
from crawler.frontier.budget import BUDGET_CHUNK
from crawler.frontier.entry import Entry, Popped
from crawler.frontier.keys import JobKeys
from crawler.frontier.partitions import Call, Partition, Partitions


class Popper:
    """Pops a job's partitions for its workers; with P > 1 and a page limit, each partition
    pops only what the job's counter granted it (budget.py)."""

    def __init__(
        self,
        client: redis.Redis,
        job_keys: JobKeys,
        partitions: Partitions,
        *,
        lease_seconds: float,
        max_pages: int,
    ) -> None:
        self.client = client
        self.job_keys = job_keys
        self.partitions = partitions
        self.lease_seconds = lease_seconds
        self.max_pages = max_pages
        self._job = Partition(client, job_keys)  # where the job-wide page budget lives

    def pop(self, count: int, worker: str) -> Popped:
        """Lease up to `count` entries to `worker`, starting one partition further each call."""
        return self.pop_in(self.partitions.in_turn(), count, worker, time.time())

    def pop_after(self, calls: Sequence[Call], count: int, worker: str) -> tuple[list[Any], Popped]:
        """Run `calls` in their order, then `pop` (none when `count` is 0), in one round trip.
        Returns the calls' replies, and what was popped."""
        now = time.time()
        turn = self.partitions.in_turn()
        todo = list(calls)
        if count > 0:
            todo.append((turn[0], scripts.POP, self.pop_args(count, worker, now)))
        replies = self.partitions.pipelined(todo)
        if count <= 0:
            return replies, Popped([], None)
        return replies[:-1], self.pop_in(turn, count, worker, now, replies[-1])

    def pop_in(
        self,
        turn: list[Partition],
        count: int,
        worker: str,
        now: float,
        first: list[bytes] | None = None,
    ) -> Popped:
        """Pop from the partitions in `turn`'s order until `count` are leased; `first`: the
        first partition's POP reply, when it came with another call."""
        entries: list[Entry] = []
        next_due: float | None = None
        for partition in turn:
            want = count - len(entries)
            if first is None:
                first = partition.call(scripts.POP, self.pop_args(want, worker, now))
            got, due = self._took(partition, first, want, worker, now)
            first = None
            entries += got
            if due is not None and (next_due is None or due < next_due):
                next_due = due
            if len(entries) >= count:
                break
        return Popped(entries, None if entries else next_due)

    def pop_args(self, want: int, worker: str, now: float) -> list[Any]:
        """The POP script's arguments."""
        budgeted = self.partitions.count > 1 and self.max_pages > 0
        return [now, self.lease_seconds, self.max_pages, want, worker, int(budgeted)]

    def _took(
        self, partition: Partition, raw: list[bytes], want: int, worker: str, now: float
    ) -> tuple[list[Entry], float | None]:
        """What one partition's POP leased; with P > 1 and a page budget, its grant settled:
        more when it spent it ('!'), what it gave back ('+n') returned to the job's counter."""
        entries = [Entry.loads(r) for r in raw if r[:1] == b"["]
        due = next((float(r[1:]) for r in raw if r[:1] == b"@"), None)
        for marker in raw:
            if marker[:1] == b"+":
                budget.give_back(self.client, self.job_keys, int(marker[1:]))
        pages = max(want - len(entries), BUDGET_CHUNK)
        if b"!" in raw and budget.grant(
            self.client, self._job, self.partitions, self.max_pages, partition, pages
        ):
            more = want - len(entries)
            again = partition.call(scripts.POP, self.pop_args(more, worker, now))
            got, due = self._took(partition, again, more, worker, now)
            entries += got
        self.partitions.leased(partition, (e.fp for e in entries))
        return entries, due
