"""The Redis frontier of one crawl job: per-host queues, politeness, dedupe and leases.

Every operation is one round trip (a Lua script or a pipeline), whatever the batch size, so the
cost of discovering 100 links on a page is one call, not 100.
"""

from __future__ import annotations

import functools
import hashlib
import json
import time
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from typing import Any, cast

import redis

from crawler import settings as defaults
from crawler.frontier import scripts
from crawler.frontier.keys import JOBS_KEY, JobKeys
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
    ) -> None:
        self.client = client
        self.job = job
        self.keys = JobKeys(job)
        self.delay = delay
        self.lease_seconds = lease_seconds
        self.max_pages = max_pages
        self.max_pages_per_host = max_pages_per_host
        self.priority = priority
        self._add = self._register(scripts.ADD)
        self._pop = self._register(scripts.POP)
        self._release = self._register(scripts.RELEASE)
        self._retry = self._register(scripts.RETRY)
        self._return = self._register(scripts.RETURN_LEASES)
        self._ack = self._register(scripts.ACK)
        self._renew = self._register(scripts.RENEW)
        self._claim = self._register(scripts.CLAIM)
        self._return_lost = self._register(scripts.RETURN_LOST)
        self._take_poisoned = self._register(scripts.TAKE_POISONED)
        self._mark_done = self._register(scripts.MARK_DONE)
        client.sadd(JOBS_KEY, job)

    def _register(self, script: scripts.Script) -> Callable[..., Any]:
        """The script bound to this job's keys, as it declares them: call it with `args=`."""
        keys = [getattr(self.keys, name) for name in script.keys]
        return functools.partial(self.client.register_script(script.lua), keys)

    # -- writing -------------------------------------------------------------------------------
    def add(self, items: Iterable[tuple[str, int]]) -> int:
        """Queue each (canonical url, depth) not seen before in this job; returns how many."""
        argv: list[str | float | int] = [
            self.keys.queue_prefix,
            time.time(),
            self.max_pages_per_host,
        ]
        for url, depth in items:
            argv += (host_of(url), Entry.new(url, depth).dumps(), self.priority(url, depth))
        if len(argv) == 3:
            return 0
        return int(self._add(args=argv))

    def pop(self, count: int = 1, worker: str = "") -> Popped:
        """Lease up to `count` entries, each from a different host that is due now, to `worker`
        (its leases go back when its heartbeat lapses; "" = only when they run out)."""
        now = time.time()
        args = [self.keys.queue_prefix, now, self.lease_seconds, self.max_pages, count, worker]
        raw = self._pop(args=args)
        if raw and raw[-1][:1] == b"@":
            return Popped([], float(raw[-1][1:]))
        return Popped([Entry.loads(r) for r in raw], None)

    def release(
        self,
        host: str,
        *,
        backoff: float = 0.0,
        failed: bool = False,
        park_after: int = 0,
        park_seconds: float = 60.0,
    ) -> int:
        """The host's request is finished: its next one is due after the larger of its delay
        and `backoff`. Returns the host's consecutive failures (parked from `park_after` on)."""
        return int(
            self._release(
                args=[self.keys.queue_prefix, host, time.time(), self.delay, backoff, int(failed),
                      park_after, park_seconds]
            )
        )  # fmt: skip

    def retry(self, entry: Entry, wait: float) -> int:
        """Put a leased entry back first in its host queue, due after `wait`; returns how often
        it has been retried (-1: it was not leased any more)."""
        args: list[str | float] = [
            self.keys.queue_prefix,
            time.time(),
            entry.fp,
            host_of(entry.url),
            wait,
        ]
        return int(self._retry(args=args))

    def drop_host(self, host: str, reason: str) -> None:
        self.client.hset(self.keys.dropped, host, reason)

    def dropped_hosts(self) -> dict[str, str]:
        raw: dict[bytes, bytes] = self.client.hgetall(self.keys.dropped)  # type: ignore[assignment]
        return {k.decode(): v.decode() for k, v in raw.items()}

    def ack(self, fingerprints: Iterable[str], failed: Collection[str] = ()) -> int:
        """These entries' pages are recorded (those in `failed` without a response): their
        leases end. Returns how many were still leased; only those are counted as recorded, so
        acknowledging a batch again (a retry, a replay) counts nothing twice."""
        argv: list[str] = [self.keys.queue_prefix]
        without_response = set(failed)
        for fp in fingerprints:
            argv += (fp, "1" if fp in without_response else "0")
        return int(self._ack(args=argv)) if len(argv) > 1 else 0

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
        gone: list[str] = []
        fps = list(fingerprints)
        known = set(renewed)
        for start in range(0, len(fps), CALL_CHUNK):
            argv: list[str | float] = [self.keys.queue_prefix, now, renewed_at]
            for fp in fps[start : start + CALL_CHUNK]:
                argv += (fp, "1" if fp in known else "0")
            gone += (fp.decode() for fp in self._renew(args=argv))
        return gone

    def claim(self, entries: Iterable[Entry], before: float) -> set[str]:
        """Take back the leases of entries whose rows a restarted process found in its spool:
        those leased (or renewed) no later than `before`, or returned and still queued. Returns
        their fingerprints; the others are recorded already or being fetched by someone else."""
        claimed: set[str] = set()
        items = list(entries)
        for start in range(0, len(items), CALL_CHUNK):
            argv: list[str | float] = [self.keys.queue_prefix, time.time(), before]
            for entry in items[start : start + CALL_CHUNK]:
                argv += (entry.fp, host_of(entry.url), entry.dumps())
            claimed.update(fp.decode() for fp in self._claim(args=argv))
        return claimed

    def return_leases(self, entries: Iterable[Entry] | None = None) -> int:
        """Put leased entries back at the head of their host queues. None: all leases, when no
        worker is alive; those whose worker died (its heartbeat lapsed) count as lost."""
        lost = 0
        if entries is None:
            lost = self._return_lost_leases(time.time() - WORKER_TIMEOUT, 0.0)
            entries = [Entry.loads(raw) for raw in self.client.hvals(self.keys.leases)]
        argv: list[str | float] = [self.keys.queue_prefix, time.time()]
        for entry in entries:
            argv += (entry.fp, host_of(entry.url))
        return lost + (int(self._return(args=argv)) if len(argv) > 2 else 0)

    def reap(self) -> int:
        """Return the lost leases: those of workers whose heartbeat lapsed (they died), and
        those older than the lease time (a live worker hung). Returns how many."""
        now = time.time()
        return self._return_lost_leases(now - WORKER_TIMEOUT, now - self.lease_seconds)

    def _return_lost_leases(self, lapsed_before: float, expired_before: float) -> int:
        pipe = self.client.pipeline(transaction=False)
        pipe.zrangebyscore(self.keys.workers, "-inf", f"({lapsed_before}")
        pipe.zrangebyscore(self.keys.lease_times, "-inf", f"({expired_before}")
        lapsed, expired = pipe.execute()
        candidates = set(expired)
        if lapsed:
            owners = cast("dict[bytes, bytes]", self.client.hgetall(self.keys.lease_owners))
            dead = set(lapsed)
            # an owner is "<worker>" or "<worker> done" (see mark_done)
            candidates.update(fp for fp, owner in owners.items() if owner.split()[0] in dead)
        returned = 0
        fps = list(candidates)
        for start in range(0, len(fps), CALL_CHUNK):
            chunk = fps[start : start + CALL_CHUNK]
            raws = self.client.hmget(self.keys.leases, chunk)
            argv: list[str | float] = [self.keys.queue_prefix, time.time(), lapsed_before,
                                       expired_before, POISON_AFTER]  # fmt: skip
            for fp, raw in zip(chunk, raws, strict=True):
                if raw:
                    argv += (fp, host_of(Entry.loads(raw).url))
            if len(argv) > 5:
                returned += int(self._return_lost(args=argv)[0])
        if lapsed:  # their leases are back: forget them (one that beat again meanwhile stays)
            self.client.zremrangebyscore(self.keys.workers, "-inf", f"({lapsed_before}")
        return returned

    def mark_done(self, worker: str, fingerprints: Iterable[str]) -> int:
        """`worker` has fetched and parsed these pages (their rows wait for the index): should
        it die now, their leases go back but do not count against the pages."""
        args = [self.keys.queue_prefix, worker, *fingerprints]
        return int(self._mark_done(args=args)) if len(args) > 2 else 0

    def take_poisoned(self, worker: str, count: int) -> list[tuple[Entry, int]]:
        """Lease up to `count` poisoned entries to `worker`, to be recorded, not fetched; each
        with how often its lease was lost."""
        raw = self._take_poisoned(args=[self.keys.queue_prefix, time.time(), worker, count])
        return [(Entry.loads(raw[i]), int(raw[i + 1])) for i in range(0, len(raw), 2)]

    def heartbeat(self, worker: str) -> int:
        """Record that `worker` is alive; returns how many other workers were seen lately.
        Workers whose heartbeat lapsed stay listed until `reap` has returned their leases."""
        now = time.time()
        pipe = self.client.pipeline(transaction=False)
        pipe.zadd(self.keys.workers, {worker: now})
        pipe.zcount(self.keys.workers, now - WORKER_TIMEOUT, "+inf")
        return int(pipe.execute()[-1]) - 1

    def live_workers(self) -> int:
        return int(self.client.zcount(self.keys.workers, time.time() - WORKER_TIMEOUT, "+inf"))

    def leave(self, worker: str) -> None:
        self.client.zrem(self.keys.workers, worker)

    def set_host_delay(self, host: str, seconds: float) -> None:
        self.client.hset(self.keys.delay, host, seconds)

    # -- reading -------------------------------------------------------------------------------
    def is_seen(self, url: str) -> bool:
        return bool(self.client.sismember(self.keys.seen, fingerprint(url)))

    def queued(self) -> int:
        return int(self.client.hget(self.keys.stats, "queued") or 0)

    def has_work(self) -> bool:
        """Something is queued or still in flight somewhere (its page may add links), and the
        page budget is not spent."""
        pipe = self.client.pipeline(transaction=False)
        pipe.hget(self.keys.stats, "queued")
        pipe.hget(self.keys.stats, "popped")
        pipe.hlen(self.keys.leases)
        queued, popped, leased = (int(v or 0) for v in pipe.execute())
        if self.max_pages and popped >= self.max_pages:
            return False
        return queued > 0 or leased > 0

    def stats(self) -> dict[str, int]:
        pipe = self.client.pipeline(transaction=False)
        pipe.hgetall(self.keys.stats)
        pipe.hlen(self.keys.leases)
        pipe.zcard(self.keys.due)
        pipe.scard(self.keys.seen)
        counters, leased, hosts, seen = pipe.execute()
        out = {k.decode(): int(v) for k, v in counters.items()}
        out.update(leased=int(leased), hosts_queued=int(hosts), seen=int(seen))
        return out
