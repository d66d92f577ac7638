"""The Redis frontier of one crawl job: per-host queues, politeness, dedupe and leases.

Every operation is one round trip (a Lua script or a pipeline), whatever the batch size, so the
cost of discovering 100 links on a page is one call, not 100.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import redis

from crawler.frontier import scripts
from crawler.frontier.keys import JOBS_KEY, JobKeys
from crawler.frontier.priority import by_depth
from crawler.urls import canonical_host, host_of

# A popped request that is not recorded within this time is considered lost with its worker.
DEFAULT_LEASE_SECONDS = 300.0
# A worker that has not sent a heartbeat for this long is considered gone.
WORKER_TIMEOUT = 15.0


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
        delay: float = 1.0,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
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
        self._add = client.register_script(scripts.ADD)
        self._pop = client.register_script(scripts.POP)
        self._release = client.register_script(scripts.RELEASE)
        self._retry = client.register_script(scripts.RETRY)
        self._return = client.register_script(scripts.RETURN_LEASES)
        client.sadd(JOBS_KEY, job)

    # -- writing -------------------------------------------------------------------------------
    def add(self, items: Iterable[tuple[str, int]]) -> int:
        """Queue each (canonical url, depth) not seen before in this job; returns how many."""
        argv: list[str | float | int] = [self.keys.base, time.time(), self.max_pages_per_host]
        for url, depth in items:
            argv += (canonical_host(url), Entry.new(url, depth).dumps(), self.priority(url, depth))
        if len(argv) == 3:
            return 0
        return int(self._add(args=argv))

    def pop(self, count: int = 1) -> Popped:
        """Lease up to `count` entries, each from a different host that is due now."""
        now = time.time()
        raw = self._pop(args=[self.keys.base, now, self.lease_seconds, self.max_pages, count])
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
                args=[self.keys.base, host, time.time(), self.delay, backoff, int(failed),
                      park_after, park_seconds]
            )
        )  # fmt: skip

    def retry(self, entry: Entry, wait: float) -> int:
        """Put a leased entry back first in its host queue, due after `wait`; returns how often
        it has been retried (-1: it was not leased any more)."""
        args: list[str | float] = [
            self.keys.base,
            time.time(),
            entry.fp,
            canonical_host(entry.url),
            wait,
        ]
        return int(self._retry(args=args))

    def drop_host(self, host: str, reason: str) -> None:
        self.client.hset(self.keys.dropped, host, reason)

    def dropped_hosts(self) -> dict[str, str]:
        raw: dict[bytes, bytes] = self.client.hgetall(self.keys.dropped)  # type: ignore[assignment]
        return {k.decode(): v.decode() for k, v in raw.items()}

    def ack(self, fingerprints: Iterable[str], failed: int = 0) -> None:
        """These entries' pages are recorded (`failed` of them without a response): their
        leases end."""
        fps = list(fingerprints)
        if fps:
            pipe = self.client.pipeline(transaction=False)
            pipe.hdel(self.keys.leases, *fps)
            pipe.zrem(self.keys.lease_times, *fps)
            pipe.hdel(self.keys.retries, *fps)
            pipe.hincrby(self.keys.stats, "recorded", len(fps))
            if failed:
                pipe.hincrby(self.keys.stats, "failed", failed)
            pipe.execute()

    def return_leases(self, entries: Iterable[Entry] | None = None) -> int:
        """Put leased entries back at the head of their host queues (all leases when None)."""
        if entries is None:
            entries = [Entry.loads(raw) for raw in self.client.hvals(self.keys.leases)]
        argv: list[str | float] = [self.keys.base, time.time()]
        for entry in entries:
            argv += (entry.fp, host_of(entry.url))
        return int(self._return(args=argv)) if len(argv) > 2 else 0

    def reap(self) -> int:
        """Return the leases older than the lease time: their worker is gone or stuck."""
        expired = self.client.zrangebyscore(
            self.keys.lease_times, "-inf", time.time() - self.lease_seconds
        )
        if not expired:
            return 0
        raws = self.client.hmget(self.keys.leases, list(expired))  # type: ignore[arg-type]
        return self.return_leases([Entry.loads(raw) for raw in raws if raw])

    def heartbeat(self, worker: str) -> int:
        """Record that `worker` is alive; returns how many other workers were seen lately."""
        now = time.time()
        pipe = self.client.pipeline(transaction=False)
        pipe.zadd(self.keys.workers, {worker: now})
        pipe.zremrangebyscore(self.keys.workers, "-inf", now - WORKER_TIMEOUT)
        pipe.zcard(self.keys.workers)
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
