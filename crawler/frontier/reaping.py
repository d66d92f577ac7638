"""Workers' liveness and the leases they lose: heartbeats (`heartbeat`, `live_workers`,
`leave`), leases put back in their host queues (`return_leases`) or reaped when their worker died
or hung (`reap`), and poison pages, whose lease was lost too often, handed out to be recorded
(`take_poisoned`). Plain functions on the frontier's client and partitions: `Frontier` delegates
to them."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import cast

import redis

from crawler.frontier import scripts
from crawler.frontier.entry import Entry
from crawler.frontier.leases import CALL_CHUNK, leased_entries
from crawler.frontier.partitions import Partition, Partitions
from crawler.urls import host_of

# A worker that has not sent a heartbeat for this long is considered gone: three heartbeats
# (crawler/frontier/heartbeat.py) missed, and its leases go back to the frontier at once.
WORKER_TIMEOUT = 15.0
# A URL whose lease was lost this often (its worker died, or hung past the lease) is poison: it
# is recorded with the reason and never handed out to be fetched again.
POISON_AFTER = 3


def return_leases(
    client: redis.Redis, partitions: Partitions, entries: Iterable[Entry] | None = None
) -> int:
    """Put leased entries back at the head of their host queues. None: all leases, when no
    worker is alive; those whose worker died (its heartbeat lapsed) count as lost."""
    lost = 0
    if entries is None:
        for partition in partitions.all:
            lost += return_lost_leases(client, partition, time.time() - WORKER_TIMEOUT, 0.0)
        entries = leased_entries(client, partitions)
    now = time.time()
    calls = [
        (partition, [now, *(v for entry in group for v in (entry.fp, host_of(entry.url)))])
        for partition, group in partitions.by_host((host_of(e.url), e) for e in entries).items()
    ]
    returned = partitions.call_each(scripts.RETURN_LEASES, calls) if calls else []
    return lost + sum(int(n) for _, n in returned)


def reap(client: redis.Redis, partitions: Partitions, lease_seconds: float) -> int:
    """Return the lost leases: those of workers whose heartbeat lapsed (they died), and
    those older than the lease time (a live worker hung). Returns how many."""
    now = time.time()
    lapsed_before, expired_before = now - WORKER_TIMEOUT, now - lease_seconds
    return sum(
        return_lost_leases(client, partition, lapsed_before, expired_before)
        for partition in partitions.all
    )


def return_lost_leases(
    client: redis.Redis, partition: Partition, lapsed_before: float, expired_before: float
) -> int:
    keys = partition.keys
    pipe = client.pipeline(transaction=False)
    pipe.zrangebyscore(keys.workers, "-inf", f"({lapsed_before}")
    pipe.zrangebyscore(keys.lease_times, "-inf", f"({expired_before}")
    lapsed, expired = pipe.execute()
    candidates = set(expired)
    if lapsed:
        owners = cast("dict[bytes, bytes]", client.hgetall(keys.lease_owners))
        dead = set(lapsed)
        # an owner is "<worker>" or "<worker> done" (see mark_done)
        candidates.update(fp for fp, owner in owners.items() if owner.split()[0] in dead)
    returned = 0
    fps = list(candidates)
    for start in range(0, len(fps), CALL_CHUNK):
        chunk = fps[start : start + CALL_CHUNK]
        raws = client.hmget(keys.leases, chunk)
        argv: list[str | float] = [time.time(), lapsed_before, expired_before, POISON_AFTER]
        for fp, raw in zip(chunk, raws, strict=True):
            if raw:
                argv += (fp, host_of(Entry.loads(raw).url))
        if len(argv) > 4:
            returned += int(partition.call(scripts.RETURN_LOST, argv)[0])
    if lapsed:  # their leases are back: forget them (one that beat again meanwhile stays)
        client.zremrangebyscore(keys.workers, "-inf", f"({lapsed_before}")
    return returned


def take_poisoned(
    client: redis.Redis, partitions: Partitions, worker: str, count: int
) -> list[tuple[Entry, int]]:
    """Lease up to `count` poisoned entries to `worker`, to be recorded, not fetched; each
    with how often its lease was lost."""
    candidates = partitions.all
    if len(candidates) > 1:  # only those with poison: one round trip to learn which
        pipe = client.pipeline(transaction=False)
        for partition in candidates:
            pipe.hlen(partition.keys.poisoned)
        candidates = [p for p, n in zip(candidates, pipe.execute(), strict=True) if n]
    taken: list[tuple[Entry, int]] = []
    for partition in candidates:
        raw = partition.call(scripts.TAKE_POISONED, [time.time(), worker, count - len(taken)])
        got = [(Entry.loads(raw[i]), int(raw[i + 1])) for i in range(0, len(raw), 2)]
        partitions.leased(partition, (entry.fp for entry, _ in got))
        taken += got
        if len(taken) >= count:
            break
    return taken


def heartbeat(client: redis.Redis, partitions: Partitions, worker: str) -> int:
    """Record that `worker` is alive; returns how many other workers were seen lately.
    Workers whose heartbeat lapsed stay listed until `reap` has returned their leases."""
    now = time.time()
    pipe = client.pipeline(transaction=False)
    for partition in partitions.all:  # each partition's scripts read their own copy
        pipe.zadd(partition.keys.workers, {worker: now})
    pipe.zcount(partitions.all[0].keys.workers, now - WORKER_TIMEOUT, "+inf")
    return int(pipe.execute()[-1]) - 1


def live_workers(client: redis.Redis, partitions: Partitions) -> int:
    workers = partitions.all[0].keys.workers  # every partition has the same beats
    return int(client.zcount(workers, time.time() - WORKER_TIMEOUT, "+inf"))


def leave(client: redis.Redis, partitions: Partitions, worker: str) -> None:
    pipe = client.pipeline(transaction=False)
    for partition in partitions.all:
        pipe.zrem(partition.keys.workers, worker)
    pipe.execute()
