"""The Redis frontier of one crawl job: per-host queues, politeness, dedupe and leases.

Every operation is one round trip (a Lua script or a pipeline), whatever the batch size, so the
cost of discovering 100 links on a page is one call, not 100.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, cast

import redis

from crawler import settings as defaults
from crawler.frontier import bloom, scripts
from crawler.frontier.keys import JOBS_KEY, JobKeys
from crawler.frontier.partitions import Partition, Partitions, saved_count
from crawler.frontier.priority import by_depth
from crawler.urls import host_of

# A worker that has not sent a heartbeat for this long is considered gone: three heartbeats
# (crawler/frontier/heartbeat.py) missed, and its leases go back to the frontier at once.
WORKER_TIMEOUT = 15.0
# A URL whose lease was lost this often (its worker died, or hung past the lease) is poison: it
# is recorded with the reason and never handed out to be fetched again.
POISON_AFTER = 3
# Entries per script call where a caller may pass thousands: a Lua call holds the whole server.
CALL_CHUNK = 1000
# Pages of the job's page budget a partition is granted at a time (P > 1 with max_pages): few
# round trips to the job's counter, and what a partition does not use is given back.
BUDGET_CHUNK = 16
# The tally of a page acknowledged without one (see `ack`): not counted in the job's figures.
NO_TALLY: tuple[str | int, ...] = ("", 0, 0, "", "", 0, 0)
# One script call on one partition's keys, to be sent in a pipeline with others.
Call = tuple[Partition, scripts.Script, Sequence[Any]]


def fingerprint(url: str) -> str:
    """8-byte fingerprint of a canonical URL, as 16 hex characters."""
    return hashlib.blake2b(url.encode(), digest_size=8).hexdigest()


@dataclass(frozen=True, slots=True)
class Entry:
    """A queued URL: what the frontier stores, as compact JSON `["fp",depth,"url"]`."""

    fp: str
    depth: int
    url: str

    @classmethod
    def new(cls, url: str, depth: int) -> Entry:
        return cls(fingerprint(url), depth, url)

    def dumps(self) -> str:
        # The fingerprint must stay first: the Lua scripts read it at characters 3-18.
        return json.dumps([self.fp, self.depth, self.url], separators=(",", ":"))

    @classmethod
    def loads(cls, raw: bytes | str) -> Entry:
        fp, depth, url = json.loads(raw)
        return cls(fp, int(depth), url)


@dataclass(frozen=True, slots=True)
class Popped:
    entries: list[Entry]
    next_due: float | None  # when nothing was due: the earliest time a host becomes due


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
        self._job = Partition(client, self.keys)
        self.delay = delay
        self.lease_seconds = lease_seconds
        self.max_pages = max_pages
        self.max_pages_per_host = max_pages_per_host
        self.priority = priority
        self.dedupe = bloom.Dedupe.saved(client, self.keys) if dedupe is None else dedupe
        self._add = scripts.ADD
        self._filters: list[bloom.BloomGeometry] = []  # per partition, as the job was created
        if self.dedupe.bloom:
            d = self.dedupe
            wanted = bloom.BloomGeometry.sized(d.capacity, d.error_rate, self.partitions.count)
            self._filters = bloom.size(client, [p.keys for p in self.partitions.all], wanted)
            self._add = scripts.ADD_BLOOM
        client.sadd(JOBS_KEY, job)
        if self.partitions.count > 1 and max_pages > 0:
            self._settle()

    def _settle(self) -> None:
        """Count in the job's page budget what its partitions popped without one (a job
        resumed with a page limit), before this process pops. (Only then, a process granting
        pages while another, just started, is counting them may grant up to those too many.)"""
        calls: list[tuple[Partition, list[Any]]] = [(p, []) for p in self.partitions.all]
        popped = sum(int(n) for _, n in self.partitions.call_each(scripts.SETTLE, calls))
        if popped:
            self.client.incrby(self.keys.budget, popped)

    def keys_for(self, host: str) -> JobKeys:
        """The keys of the partition holding `host` (P = 1: the job's own)."""
        return self.partitions.of_host(host).keys

    # -- writing -------------------------------------------------------------------------------
    def add(self, items: Iterable[tuple[str, int]]) -> int:
        """Queue each (canonical url, depth) not seen before in this job; returns how many.
        One script call per partition the URLs' hosts fall in, all in one round trip."""
        calls = [(partition, args) for partition, _, args in self.add_calls(items)]
        if not calls:
            return 0
        return sum(int(added) for _, added in self.partitions.call_each(self._add, calls))

    def add_calls(self, items: Iterable[tuple[str, int]]) -> list[Call]:
        """The script calls `add` makes (one per partition), to send with others (`pop_after`)."""
        triples = []
        for url, depth in items:
            host = host_of(url)
            triples.append((host, (host, Entry.new(url, depth).dumps(), self.priority(url, depth))))
        now = time.time()
        return [
            (partition, self._add,
             [now, self.max_pages_per_host, *(v for triple in group for v in triple)])
            for partition, group in self.partitions.by_host(triples).items()
        ]  # fmt: skip

    def pop(self, count: int = 1, worker: str = "") -> Popped:
        """Lease up to `count` entries, each from a different host that is due now, to `worker`
        (its leases go back when its heartbeat lapses; "" = only when they run out). With
        P > 1 the partitions are tried in turn, each call starting one further."""
        return self._pop_in(self.partitions.in_turn(), count, worker, time.time())

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
        now = time.time()
        turn = self.partitions.in_turn()
        todo = list(calls)
        if count > 0:
            todo.append((turn[0], scripts.POP, self._pop_args(count, worker, now)))
        replies = self._pipelined(todo)
        if count <= 0:
            return replies, Popped([], None)
        return replies[:-1], self._pop_in(turn, count, worker, now, replies[-1])

    def _pipelined(self, calls: Sequence[Call]) -> list[Any]:
        """Run script calls in one round trip, in order; raises the first error. A server
        restarted meanwhile has lost its scripts: the calls it refused for that (none of them
        ran) are sent again once the pipeline has loaded them, the others' replies are kept."""
        replies: list[Any] = [None] * len(calls)
        pending = list(range(len(calls)))
        for _ in range(2):
            if not pending:
                break
            pipe = self.client.pipeline(transaction=False)
            for i in pending:
                partition, script, args = calls[i]
                partition.call(script, args, client=pipe)
            for i, reply in zip(pending, pipe.execute(raise_on_error=False), strict=True):
                replies[i] = reply
            pending = [i for i in pending if isinstance(replies[i], redis.exceptions.NoScriptError)]
        error = next((r for r in replies if isinstance(r, Exception)), None)
        if error is not None:
            raise error
        return replies

    def _pop_in(
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
                first = partition.call(scripts.POP, self._pop_args(want, worker, now))
            got, due = self._took(partition, first, want, worker, now)
            first = None
            entries += got
            if due is not None and (next_due is None or due < next_due):
                next_due = due
            if len(entries) >= count:
                break
        return Popped(entries, None if entries else next_due)

    def _pop_args(self, want: int, worker: str, now: float) -> list[Any]:
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
                self.client.decrby(self.keys.budget, int(marker[1:]))
        if b"!" in raw and self._grant(partition, max(want - len(entries), BUDGET_CHUNK)):
            more = want - len(entries)
            again = partition.call(scripts.POP, self._pop_args(more, worker, now))
            got, due = self._took(partition, again, more, worker, now)
            entries += got
        self.partitions.leased(partition, (e.fp for e in entries))
        return entries, due

    def _grant(self, partition: Partition, pages: int) -> int:
        """Grant `partition` up to `pages` more of the job's page budget; returns how many."""
        args = [self.max_pages, pages, self.partitions.count]
        granted = int(self._job.call(scripts.RESERVE, args))
        if granted:
            self.client.hincrby(partition.keys.stats, "granted", granted)
        return granted

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

    def ack(
        self,
        fingerprints: Iterable[str],
        failed: Collection[str] = (),
        tallies: Sequence[Sequence[str | int]] = (),
    ) -> int:
        """These entries' pages are recorded (those in `failed` without a response): their
        leases end, and each page's tally (crawler/jobstats.py, in the same order) is counted
        in the job's figures. Returns how many were still leased; only those are counted, so
        acknowledging a batch again (a retry, a replay) counts nothing twice."""
        without_response = set(failed)
        fps = list(fingerprints)
        if not fps:
            return 0
        tally_of = {fp: tallies[i] if i < len(tallies) else NO_TALLY for i, fp in enumerate(fps)}
        calls = []
        for partition, group in self.partitions.by_fingerprint(fps).items():
            argv: list[str | int] = []
            for fp in group:
                argv += (fp, "1" if fp in without_response else "0")
                argv += tally_of[fp]
            calls.append((partition, argv))
        recorded = sum(int(n) for _, n in self.partitions.call_each(scripts.ACK, calls))
        self.partitions.ended(fps)
        return recorded

    def renew(
        self,
        fingerprints: Iterable[str],
        now: float,
        renewed: Collection[str] = (),
        renewed_at: float = 0.0,
    ) -> list[str]:
        """Restart the leases of pages this worker still holds (their rows wait for the index)
        at `now`, so no reaper hands them out again; those in `renewed` were renewed by it at
        `renewed_at`. Returns the fingerprints that are not its own any more: recorded,
        returned, or handed out again since."""
        fps = list(fingerprints)
        known = set(renewed)
        kept: set[str] = set()  # a page sent to every partition is kept by at most one
        for partition, group in self.partitions.by_fingerprint(fps).items():
            for start in range(0, len(group), CALL_CHUNK):
                chunk = group[start : start + CALL_CHUNK]
                argv: list[str | float] = [now, renewed_at]
                for fp in chunk:
                    argv += (fp, "1" if fp in known else "0")
                gone = {fp.decode() for fp in partition.call(scripts.RENEW, argv)}
                kept.update(fp for fp in chunk if fp not in gone)
        return [fp for fp in fps if fp not in kept]

    def claim(self, entries: Iterable[Entry], before: float) -> set[str]:
        """Take back the leases of entries whose rows a restarted process found in its spool:
        those leased (or renewed) no later than `before`, or returned and still queued. Returns
        their fingerprints; the others are recorded already or being fetched by someone else."""
        claimed: set[str] = set()
        groups = self.partitions.by_host((host_of(e.url), e) for e in entries)
        for partition, items in groups.items():
            for start in range(0, len(items), CALL_CHUNK):
                argv: list[str | float] = [time.time(), before]
                for entry in items[start : start + CALL_CHUNK]:
                    argv += (entry.fp, host_of(entry.url), entry.dumps())
                taken = {fp.decode() for fp in partition.call(scripts.CLAIM, argv)}
                self.partitions.leased(partition, taken)
                claimed |= taken
        return claimed

    def return_leases(self, entries: Iterable[Entry] | None = None) -> int:
        """Put leased entries back at the head of their host queues. None: all leases, when no
        worker is alive; those whose worker died (its heartbeat lapsed) count as lost."""
        lost = 0
        if entries is None:
            for partition in self.partitions.all:
                lost += self._return_lost_leases(partition, time.time() - WORKER_TIMEOUT, 0.0)
            entries = self.leased_entries()
        now = time.time()
        calls = [
            (partition, [now, *(v for entry in group for v in (entry.fp, host_of(entry.url)))])
            for partition, group in self.partitions.by_host(
                (host_of(e.url), e) for e in entries
            ).items()
        ]
        returned = self.partitions.call_each(scripts.RETURN_LEASES, calls) if calls else []
        return lost + sum(int(n) for _, n in returned)

    def leased_entries(self) -> list[Entry]:
        """Every entry leased now, in every partition."""
        pipe = self.client.pipeline(transaction=False)
        for partition in self.partitions.all:
            pipe.hvals(partition.keys.leases)
        return [Entry.loads(raw) for values in pipe.execute() for raw in values]

    def reap(self) -> int:
        """Return the lost leases: those of workers whose heartbeat lapsed (they died), and
        those older than the lease time (a live worker hung). Returns how many."""
        now = time.time()
        lapsed_before, expired_before = now - WORKER_TIMEOUT, now - self.lease_seconds
        return sum(
            self._return_lost_leases(partition, lapsed_before, expired_before)
            for partition in self.partitions.all
        )

    def _return_lost_leases(
        self, partition: Partition, lapsed_before: float, expired_before: float
    ) -> int:
        keys = partition.keys
        pipe = self.client.pipeline(transaction=False)
        pipe.zrangebyscore(keys.workers, "-inf", f"({lapsed_before}")
        pipe.zrangebyscore(keys.lease_times, "-inf", f"({expired_before}")
        lapsed, expired = pipe.execute()
        candidates = set(expired)
        if lapsed:
            owners = cast("dict[bytes, bytes]", self.client.hgetall(keys.lease_owners))
            dead = set(lapsed)
            # an owner is "<worker>" or "<worker> done" (see mark_done)
            candidates.update(fp for fp, owner in owners.items() if owner.split()[0] in dead)
        returned = 0
        fps = list(candidates)
        for start in range(0, len(fps), CALL_CHUNK):
            chunk = fps[start : start + CALL_CHUNK]
            raws = self.client.hmget(keys.leases, chunk)
            argv: list[str | float] = [time.time(), lapsed_before, expired_before, POISON_AFTER]
            for fp, raw in zip(chunk, raws, strict=True):
                if raw:
                    argv += (fp, host_of(Entry.loads(raw).url))
            if len(argv) > 4:
                returned += int(partition.call(scripts.RETURN_LOST, argv)[0])
        if lapsed:  # their leases are back: forget them (one that beat again meanwhile stays)
            self.client.zremrangebyscore(keys.workers, "-inf", f"({lapsed_before}")
        return returned

    def mark_done(self, worker: str, fingerprints: Iterable[str]) -> int:
        """`worker` has fetched and parsed these pages (their rows wait for the index): should
        it die now, their leases go back but do not count against the pages."""
        fps = list(fingerprints)
        if not fps:
            return 0
        calls = [(p, [worker, *group]) for p, group in self.partitions.by_fingerprint(fps).items()]
        return sum(int(n) for _, n in self.partitions.call_each(scripts.MARK_DONE, calls))

    def disown(self, fingerprints: Iterable[str]) -> None:
        """These leases lose their owner: a dead owner's reaper leaves them alone (their rows
        are handed over); only their renewals and the lease deadline apply."""
        pipe = self.client.pipeline(transaction=False)
        for partition, group in self.partitions.by_fingerprint(fingerprints).items():
            pipe.hdel(partition.keys.lease_owners, *group)
        pipe.execute()

    def take_poisoned(self, worker: str, count: int) -> list[tuple[Entry, int]]:
        """Lease up to `count` poisoned entries to `worker`, to be recorded, not fetched; each
        with how often its lease was lost."""
        partitions = self.partitions.all
        if len(partitions) > 1:  # only those with poison: one round trip to learn which
            pipe = self.client.pipeline(transaction=False)
            for partition in partitions:
                pipe.hlen(partition.keys.poisoned)
            partitions = [p for p, n in zip(partitions, pipe.execute(), strict=True) if n]
        taken: list[tuple[Entry, int]] = []
        for partition in partitions:
            raw = partition.call(scripts.TAKE_POISONED, [time.time(), worker, count - len(taken)])
            got = [(Entry.loads(raw[i]), int(raw[i + 1])) for i in range(0, len(raw), 2)]
            self.partitions.leased(partition, (entry.fp for entry, _ in got))
            taken += got
            if len(taken) >= count:
                break
        return taken

    def heartbeat(self, worker: str) -> int:
        """Record that `worker` is alive; returns how many other workers were seen lately.
        Workers whose heartbeat lapsed stay listed until `reap` has returned their leases."""
        now = time.time()
        pipe = self.client.pipeline(transaction=False)
        for partition in self.partitions.all:  # each partition's scripts read their own copy
            pipe.zadd(partition.keys.workers, {worker: now})
        pipe.zcount(self.partitions.all[0].keys.workers, now - WORKER_TIMEOUT, "+inf")
        return int(pipe.execute()[-1]) - 1

    def live_workers(self) -> int:
        workers = self.partitions.all[0].keys.workers  # every partition has the same beats
        return int(self.client.zcount(workers, time.time() - WORKER_TIMEOUT, "+inf"))

    def leave(self, worker: str) -> None:
        pipe = self.client.pipeline(transaction=False)
        for partition in self.partitions.all:
            pipe.zrem(partition.keys.workers, worker)
        pipe.execute()

    def set_host_delay(self, host: str, seconds: float) -> None:
        self.client.hset(self.keys_for(host).delay, host, seconds)

    # -- reading -------------------------------------------------------------------------------
    def is_seen(self, url: str) -> bool:
        partition = self.partitions.of_host(host_of(url))
        if self._filters:  # may be a false positive
            geometry = self._filters[partition.index]
            return bloom.contains(self.client, partition.keys, geometry, fingerprint(url))
        return bool(self.client.sismember(partition.keys.seen, fingerprint(url)))

    def queued(self) -> int:
        return self._summed(lambda keys, pipe: pipe.hget(keys.stats, "queued"))[0]

    def _summed(self, *reads: Callable[[JobKeys, Any], Any]) -> list[int]:
        """Each read (of one partition's keys, queued on a pipeline), summed over partitions."""
        pipe = self.client.pipeline(transaction=False)
        for partition in self.partitions.all:
            for read in reads:
                read(partition.keys, pipe)
        values = pipe.execute()
        return [sum(int(v or 0) for v in values[i :: len(reads)]) for i in range(len(reads))]

    def has_work(self) -> bool:
        """Something is queued or still in flight somewhere (its page may add links), and the
        page budget is not spent."""
        queued, popped, leased = self._summed(
            lambda keys, pipe: pipe.hget(keys.stats, "queued"),
            lambda keys, pipe: pipe.hget(keys.stats, "popped"),
            lambda keys, pipe: pipe.hlen(keys.leases),
        )
        if self.max_pages and popped >= self.max_pages:
            return False
        return queued > 0 or leased > 0

    def stats(self) -> dict[str, int]:
        """The counters of `JobKeys.stats` and the sizes of leases, due and seen, summed over
        the partitions."""
        pipe = self.client.pipeline(transaction=False)
        for partition in self.partitions.all:
            keys = partition.keys
            pipe.hgetall(keys.stats)
            pipe.hlen(keys.leases)
            pipe.zcard(keys.due)
            pipe.scard(keys.seen)
        values = pipe.execute()
        out: dict[str, int] = {}
        for i in range(0, len(values), 4):
            counters, leased, hosts, seen = values[i : i + 4]
            sizes = {b"leased": leased, b"hosts_queued": hosts, b"seen": seen}
            for name, value in [*counters.items(), *sizes.items()]:
                out[name.decode()] = out.get(name.decode(), 0) + int(value)
        if self._filters:  # a Bloom filter cannot count its URLs: those it let in, then
            out["seen"] = out.get("enqueued", 0)
        return out
