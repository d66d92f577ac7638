"""Starting a run of a job, as the process that owns the run does (a crawl's coordinator, or the
service): its spec resolved from the saved one and what was given, saved with the job (marked
running), its seeds queued, and what an earlier run left leased returned to the frontier.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from typing import Any, cast

import redis

from crawler import jobs
from crawler.columnar import decode
from crawler.errors import UsageError
from crawler.frontier import Frontier
from crawler.frontier.bloom import Dedupe
from crawler.jobspec import JobSpec, seed_domains

SEED_BATCH = 1000  # seeds queued per frontier call


def saved_spec(client: redis.Redis, job: str) -> JobSpec:
    spec = jobs.load(client, job)
    if spec is None:
        raise UsageError(f"no job {job!r} in this frontier (see `linkgraph jobs`)")
    return spec


def resolve_spec(
    client: redis.Redis, job: str, given: Mapping[str, Any], seeds: Sequence[str]
) -> tuple[JobSpec, list[str]]:
    """The job's spec: the saved one (or the defaults) updated with what was given, and what
    that changed in a saved one."""
    saved = jobs.load(client, job)
    if saved is None and not seeds:
        raise UsageError(f"job {job!r} has no seeds: give URLs or --seeds-file to start it")
    base = saved or JobSpec(job=job)
    if seeds:  # the seed-domains scope covers every seed the job was ever given
        domains = sorted({*base.seed_domains, *seed_domains(seeds)})
        given = {**given, "LINKGRAPH_SEED_DOMAINS": domains}
    spec, changes = base.updated(given)
    if saved and spec.frontier_partitions != saved.frontier_partitions:
        raise UsageError(
            f"job {job!r} has {saved.frontier_partitions} frontier partitions, fixed when it "
            f"was created (a new job may have {spec.frontier_partitions})"
        )
    if saved and _dedupe(spec).describe() != _dedupe(saved).describe():
        raise UsageError(
            f"job {job!r} dedupes URLs {_dedupe(saved).describe()}, fixed when it was created "
            f"(a new job may dedupe them {_dedupe(spec).describe()})"
        )
    return spec, changes if saved else []


def _dedupe(spec: JobSpec) -> Dedupe:
    return Dedupe(spec.dedupe, spec.bloom_capacity, spec.bloom_error_rate)


def start_job(client: redis.Redis, spec: JobSpec, changes: list[str], seeds: Sequence[str]) -> None:
    for change in changes:
        print(f"job {spec.job}: {change}", file=sys.stderr)
    jobs.save(client, spec)
    frontier = Frontier(client, spec.job, max_pages_per_host=spec.max_pages_per_host)
    # Seeds are queued (deduplicated) before any worker starts: a worker that found the
    # frontier empty would take the job for finished.
    for start in range(0, len(seeds), SEED_BATCH):
        frontier.add((url, 0) for url in seeds[start : start + SEED_BATCH])
    if frontier.live_workers() == 0:
        # Nobody is crawling this job: what is still leased was in flight when it last
        # stopped, and was never recorded; but for the pages whose rows wait in the hand-off
        # stream (a coordinator stopped at once), which the index owner stores first.
        waiting = _handed_over(client, frontier)
        if not waiting:
            frontier.return_leases()
        else:
            leased = frontier.leased_entries()
            frontier.return_leases([e for e in leased if e.fp not in waiting])


def _handed_over(client: redis.Redis, frontier: Frontier) -> set[str]:
    """Fingerprints of the pages whose rows wait in the job's hand-off stream."""
    waiting: set[str] = set()
    entries = cast("list[tuple[bytes, dict[bytes, bytes]]]", client.xrange(frontier.keys.rows))
    for _id, fields in entries:
        waiting.update(decode(fields[b"batch"], "").fingerprints)
    return waiting
