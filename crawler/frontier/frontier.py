"""The Redis frontier of one crawl job: per-host queues, politeness, dedupe and leases.

Every operation is one round trip (a Lua script or a pipeline), whatever the batch size, so the
cost of discovering 100 links on a page is one call, not 100.

`Frontier` is the job's one handle on it: it opens the job (its partitions, dedupe and page
budget as the job was created), releases, retries and drops hosts, and delegates the rest:
queueing URLs (adding.py), leasing them to workers (popping.py), the page budget of P > 1
partitions (budget.py), the leases workers hold and acknowledge (leases.py), heartbeats, lost
leases and poison pages (reaping.py), and reading its state (status.py). Entries and
fingerprints are in entry.py.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterable, Sequence
from typing import Any

import redis

from crawler import settings as defaults
from crawler.frontier import adding, bloom, budget, leases, reaping, scripts, status
from crawler.frontier.entry import Entry, Popped
from crawler.frontier.keys import JOBS_KEY, JobKeys
from crawler.frontier.partitions import Call, Partitions, saved_count
from crawler.frontier.popping import Popper
from crawler.frontier.priority import by_depth
from crawler.urls import host_of


class Frontier:
    def __init__(
        self,
        client: redis.Redis,
        job: str,
        *,
        delay: float = defaults.LINKGRAPH_DELAY,
        lease_seconds: float = defaults.LINKGRAPH_LEASE_SECONDS,
        max_pages: int = 0,
        max_pages_per_host: int = 0,
        priority: Callable[[str, int], int] = by_depth,
        partitions: int | None = None,  # None: as the job was created with (its saved spec)
        dedupe: bloom.Dedupe | None = None,  # None: as the job was created with, likewise
    ) -> None:
        self.client = client
        self.job = job
        self.keys = JobKeys(job)  # the job's own tag (job-wide keys); P = 1: its one partition
        if partitions is None:
            partitions = saved_count(client, self.keys)
        self.partitions = Partitions(client, self.keys, partitions)
        self.delay = delay
        self.lease_seconds = lease_seconds
        self.max_pages = max_pages
        self.max_pages_per_host = max_pages_per_host
        self.priority = priority
        self.dedupe = bloom.Dedupe.saved(client, self.keys) if dedupe is None else dedupe
        # dedupe as the job was created: exactly, or in a Bloom filter per partition
        self._add, self._filters = adding.add_script(client, self.partitions, self.dedupe)
        client.sadd(JOBS_KEY, job)
        if self.partitions.count > 1 and max_pages > 0:
            budget.settle(self.client, self.keys, self.partitions)
        self._popper = Popper(
            client, self.keys, self.partitions, lease_seconds=lease_seconds, max_pages=max_pages
        )

    def keys_for(self, host: str) -> JobKeys:
        """The keys of the partition holding `host` (P = 1: the job's own)."""
        return self.partitions.of_host(host).keys

    # -- adding (adding.py) ----------------------------------------------------------------------
    def add(self, items: Iterable[tuple[str, int]]) -> int:
        """Queue each (canonical url, depth) not seen before in this job; returns how many.
        One script call per partition the URLs' hosts fall in, all in one round trip."""
        calls = [(partition, args) for partition, _, args in self.add_calls(items)]
        if not calls:
            return 0
        return sum(int(added) for _, added in self.partitions.call_each(self._add, calls))

    def add_calls(self, items: Iterable[tuple[str, int]]) -> list[Call]:
        """The script calls `add` makes (one per partition), to send with others (`pop_after`)."""
        return adding.add_calls(
            self.partitions, self._add, self.priority, self.max_pages_per_host, items
        )

    # -- popping (popping.py) and releasing hosts ------------------------------------------------
    def pop(self, count: int = 1, worker: str = "") -> Popped:
        """Lease up to `count` entries, each from a different host that is due now, to `worker`
        (its leases go back when its heartbeat lapses; "" = only when they run out). With
        P > 1 the partitions are tried in turn, each call starting one further."""
        return self._popper.pop(count, worker)

    def release_and_pop(
        self,
        host: str,
        count: int = 1,
        worker: str = "",
        *,
        backoff: float = 0.0,
        failed: bool = False,
        park_after: int = 0,
        park_seconds: float = 60.0,
        latency: float = 0.0,
    ) -> tuple[int, Popped]:
        """`release` then `pop`, in one round trip: a worker's finished request and its next.
        Returns the host's consecutive failures, and what was popped."""
        args = [host, time.time(), self.delay, backoff, int(failed), park_after, park_seconds,
                latency]  # fmt: skip
        (failures,), popped = self.pop_after([(self.partitions.of_host(host), scripts.RELEASE,
                                               args)], count, worker)  # fmt: skip
        return int(failures), popped

    def pop_after(self, calls: Sequence[Call], count: int, worker: str) -> tuple[list[Any], Popped]:
        """Run `calls` in their order, then `pop` (none when `count` is 0), in one round trip:
        a worker's releases, adds and acknowledgements sent with its next pop. Returns the
        calls' replies, and what was popped."""
        return self._popper.pop_after(calls, count, worker)

    def release(
        self,
        host: str,
        *,
        backoff: float = 0.0,
        failed: bool = False,
        park_after: int = 0,
        park_seconds: float = 60.0,
        latency: float = 0.0,
    ) -> int:
        """The host's request is finished (its response took `latency` seconds; 0: none): its
        next one is due after the larger of its delay and `backoff`. Returns the host's
        consecutive failures (parked from `park_after` on)."""
        return int(
            self.partitions.of_host(host).call(
                scripts.RELEASE,
                [host, time.time(), self.delay, backoff, int(failed), park_after, park_seconds,
                 latency],
            )
        )  # fmt: skip

    def retry(self, entry: Entry, wait: float) -> int:
        """Put a leased entry back first in its host queue, due after `wait`; returns how often
        it has been retried (-1: it was not leased any more)."""
        host = host_of(entry.url)
        args = [time.time(), entry.fp, host, wait]
        return int(self.partitions.of_host(host).call(scripts.RETRY, args))

    def retries(self, entry: Entry) -> int:
        """How often the entry's fetch was retried so far."""
        keys = self.keys_for(host_of(entry.url))
        return int(self.client.hget(keys.retries, entry.fp) or 0)

    def drop_host(self, host: str, reason: str) -> None:
        self.client.hset(self.keys.dropped, host, reason)

    def dropped_hosts(self) -> dict[str, str]:
        raw: dict[bytes, bytes] = self.client.hgetall(self.keys.dropped)  # type: ignore[assignment]
        return {k.decode(): v.decode() for k, v in raw.items()}

    def set_host_delay(self, host: str, seconds: float) -> None:
        self.client.hset(self.keys_for(host).delay, host, seconds)

    # -- leases (leases.py) ----------------------------------------------------------------------
    def ack(
        self,
        fingerprints: Iterable[str],
        failed: Collection[str] = (),
        tallies: Sequence[Sequence[str | int]] = (),
    ) -> int:
        """These entries' pages are recorded: their leases end (see `leases.ack`)."""
        return leases.ack(self.partitions, fingerprints, failed, tallies)

    def renew(
        self,
        fingerprints: Iterable[str],
        now: float,
        renewed: Collection[str] = (),
        renewed_at: float = 0.0,
    ) -> list[str]:
        """Restart the leases of pages this worker still holds (see `leases.renew`)."""
        return leases.renew(self.partitions, fingerprints, now, renewed, renewed_at)

    def claim(self, entries: Iterable[Entry], before: float) -> set[str]:
        """Take back the leases of entries found in a spool (see `leases.claim`)."""
        return leases.claim(self.partitions, entries, before)

    def leased_entries(self) -> list[Entry]:
        """Every entry leased now, in every partition."""
        return leases.leased_entries(self.client, self.partitions)

    def mark_done(self, worker: str, fingerprints: Iterable[str]) -> int:
        """`worker` has fetched and parsed these pages (see `leases.mark_done`)."""
        return leases.mark_done(self.partitions, worker, fingerprints)

    def disown(self, fingerprints: Iterable[str]) -> None:
        """These leases lose their owner (see `leases.disown`)."""
        leases.disown(self.client, self.partitions, fingerprints)

    # -- workers, lost leases, poison (reaping.py) -----------------------------------------------
    def return_leases(self, entries: Iterable[Entry] | None = None) -> int:
        """Put leased entries back at the head of their host queues. None: all leases, when no
        worker is alive; those whose worker died (its heartbeat lapsed) count as lost."""
        return reaping.return_leases(self.client, self.partitions, entries)

    def reap(self) -> int:
        """Return the lost leases: those of workers whose heartbeat lapsed (they died), and
        those older than the lease time (a live worker hung). Returns how many."""
        return reaping.reap(self.client, self.partitions, self.lease_seconds)

    def take_poisoned(self, worker: str, count: int) -> list[tuple[Entry, int]]:
        """Lease up to `count` poisoned entries to `worker`, to be recorded, not fetched; each
        with how often its lease was lost."""
        return reaping.take_poisoned(self.client, self.partitions, worker, count)

    def heartbeat(self, worker: str) -> int:
        """Record that `worker` is alive; returns how many other workers were seen lately.
        Workers whose heartbeat lapsed stay listed until `reap` has returned their leases."""
        return reaping.heartbeat(self.client, self.partitions, worker)

    def live_workers(self) -> int:
        return reaping.live_workers(self.client, self.partitions)

    def leave(self, worker: str) -> None:
        reaping.leave(self.client, self.partitions, worker)

    # -- reading (status.py) ---------------------------------------------------------------------
    def is_seen(self, url: str) -> bool:
        return status.is_seen(self.client, self.partitions, self._filters, url)

    def queued(self) -> int:
        return status.queued(self.client, self.partitions)

    def has_work(self) -> bool:
        """Something is queued or still in flight somewhere (its page may add links), and the
        page budget is not spent."""
        return status.has_work(self.client, self.partitions, self.max_pages)

    def stats(self) -> dict[str, int]:
        """The counters of `JobKeys.stats` and the sizes of leases, due and seen, summed over
        the partitions."""
        return status.stats(self.client, self.partitions, self._filters)
