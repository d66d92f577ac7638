"""`linkgraph crawl` on a data directory that another process owns: a service runs the job
(POST /api/jobs), a running crawl is said in one line (chDB lets one process hold the index)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from crawler.errors import UsageError
from crawler.jobspec import FIELDS
from crawler.service.owner import Owner, OwnerClient, find_owner


def owner_for_crawl(args: argparse.Namespace, clickhouse_url: str | None) -> Owner | None:
    """The process that holds the embedded index this crawl would use, if any; a running crawl
    is refused here, in one line."""
    if clickhouse_url:  # a ClickHouse server: any number of crawls share it
        return None
    owner = find_owner(args.data_dir)
    if owner is not None and owner.kind == "crawl":
        raise UsageError(
            f"the index at {args.data_dir} is held by {owner.describe()}: wait for it to end, "
            "or add workers to its job with `linkgraph worker --job JOB`"
        )
    return owner


def job_body(
    job: str, given: Mapping[str, Any], seeds: Sequence[str], workers: int
) -> dict[str, Any]:
    """The POST /api/jobs body: the given settings as JobSpec fields (others under
    `settings`), the seeds and the number of worker processes."""
    spec: dict[str, Any] = {}
    others: dict[str, Any] = {}
    for name, value in given.items():
        if name in FIELDS:
            spec[FIELDS[name]] = value
        else:
            others[name] = value
    if others:
        spec["settings"] = others
    return {"job": job, "seeds": list(seeds), "workers": workers, "spec": spec}


def submit(owner: Owner, body: dict[str, Any], data_dir: Any) -> int:
    """Hand the job to the service; say its name and how to follow it."""
    stats = OwnerClient(owner).submit_job(body)
    job = str(stats.get("job") or body["job"])
    print(
        f"job {job} submitted to {owner.describe()}; follow it with "
        f"`linkgraph status {job} --data-dir {data_dir}` or {owner.url}/api/jobs/{job}",
        file=sys.stderr,
    )
    return 0
