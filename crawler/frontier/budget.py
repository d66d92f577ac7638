"""The job's page budget when its frontier has P > 1 partitions and a page limit: each partition
pops only the pages granted to it from the job-wide counter (`JobKeys.budget`), a few at a time,
and gives back what it does not use (see the POP and RESERVE scripts)."""

from __future__ import annotations

from typing import Any

import redis

from crawler.frontier import scripts
from crawler.frontier.keys import JobKeys
from crawler.frontier.partitions import Partition, Partitions

# Pages of the job's page budget a partition is granted at a time (P > 1 with max_pages): few
# round trips to the job's counter, and what a partition does not use is given back.
BUDGET_CHUNK = 16


def settle(client: redis.Redis, job_keys: JobKeys, partitions: Partitions) -> None:
    """Count in the job's page budget what its partitions popped without one (a job
    resumed with a page limit), before this process pops. (Only then, a process granting
    pages while another, just started, is counting them may grant up to those too many.)"""
    calls: list[tuple[Partition, list[Any]]] = [(p, []) for p in partitions.all]
    popped = sum(int(n) for _, n in partitions.call_each(scripts.SETTLE, calls))
    if popped:
        client.incrby(job_keys.budget, popped)


def give_back(client: redis.Redis, job_keys: JobKeys, pages: int) -> None:
    """Return pages a partition was granted but did not use to the job's counter."""
    client.decrby(job_keys.budget, pages)


def grant(
    client: redis.Redis,
    job: Partition,
    partitions: Partitions,
    max_pages: int,
    partition: Partition,
    pages: int,
) -> int:
    """Grant `partition` up to `pages` more of the job's page budget (`job`: the job's own
    keys, where the budget lives); returns how many."""
    args = [max_pages, pages, partitions.count]
    granted = int(job.call(scripts.RESERVE, args))
    if granted:
        client.hincrby(partition.keys.stats, "granted", granted)
    return granted
