"""The leases a worker holds until its pages are recorded: acknowledging them (`ack`), marking
them fetched and parsed (`mark_done`), renewing them while their rows wait (`renew`), taking them
back after a restart (`claim`), handing them over (`disown`), and listing them (`leased_entries`).
Plain functions on the frontier's client and partitions: `Frontier` delegates to them."""

from __future__ import annotations

import time
from collections.abc import Collection, Iterable, Sequence

import redis

from crawler.frontier import scripts
from crawler.frontier.entry import Entry
from crawler.frontier.partitions import Partitions
from crawler.urls import host_of

# Entries per script call where a caller may pass thousands: a Lua call holds the whole server.
CALL_CHUNK = 1000
# The tally of a page acknowledged without one (see `ack`): not counted in the job's figures.
NO_TALLY: tuple[str | int, ...] = ("", 0, 0, "", "", 0, 0)


def ack(
    partitions: Partitions,
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
    for partition, group in partitions.by_fingerprint(fps).items():
        argv: list[str | int] = []
        for fp in group:
            argv += (fp, "1" if fp in without_response else "0")
            argv += tally_of[fp]
        calls.append((partition, argv))
    recorded = sum(int(n) for _, n in partitions.call_each(scripts.ACK, calls))
    partitions.ended(fps)
    return recorded


def renew(
    partitions: Partitions,
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
    for partition, group in partitions.by_fingerprint(fps).items():
        for start in range(0, len(group), CALL_CHUNK):
            chunk = group[start : start + CALL_CHUNK]
            argv: list[str | float] = [now, renewed_at]
            for fp in chunk:
                argv += (fp, "1" if fp in known else "0")
            gone = {fp.decode() for fp in partition.call(scripts.RENEW, argv)}
            kept.update(fp for fp in chunk if fp not in gone)
    return [fp for fp in fps if fp not in kept]


def claim(partitions: Partitions, entries: Iterable[Entry], before: float) -> set[str]:
    """Take back the leases of entries whose rows a restarted process found in its spool:
    those leased (or renewed) no later than `before`, or returned and still queued. Returns
    their fingerprints; the others are recorded already or being fetched by someone else."""
    claimed: set[str] = set()
    groups = partitions.by_host((host_of(e.url), e) for e in entries)
    for partition, items in groups.items():
        for start in range(0, len(items), CALL_CHUNK):
            argv: list[str | float] = [time.time(), before]
            for entry in items[start : start + CALL_CHUNK]:
                argv += (entry.fp, host_of(entry.url), entry.dumps())
            taken = {fp.decode() for fp in partition.call(scripts.CLAIM, argv)}
            partitions.leased(partition, taken)
            claimed |= taken
    return claimed


def leased_entries(client: redis.Redis, partitions: Partitions) -> list[Entry]:
    """Every entry leased now, in every partition."""
    pipe = client.pipeline(transaction=False)
    for partition in partitions.all:
        pipe.hvals(partition.keys.leases)
    return [Entry.loads(raw) for values in pipe.execute() for raw in values]


def mark_done(partitions: Partitions, worker: str, fingerprints: Iterable[str]) -> int:
    """`worker` has fetched and parsed these pages (their rows wait for the index): should
    it die now, their leases go back but do not count against the pages."""
    fps = list(fingerprints)
    if not fps:
        return 0
    calls = [(p, [worker, *group]) for p, group in partitions.by_fingerprint(fps).items()]
    return sum(int(n) for _, n in partitions.call_each(scripts.MARK_DONE, calls))


def disown(client: redis.Redis, partitions: Partitions, fingerprints: Iterable[str]) -> None:
    """These leases lose their owner: a dead owner's reaper leaves them alone (their rows
    are handed over); only their renewals and the lease deadline apply."""
    pipe = client.pipeline(transaction=False)
    for partition, group in partitions.by_fingerprint(fingerprints).items():
        pipe.hdel(partition.keys.lease_owners, *group)
    pipe.execute()
