"""Re-crawls: a job's pages fetched again, politely, and nothing else, to find the links (and the
referring domains) they gained and lost.

The re-crawls of job J are the jobs J.r1, J.r2, ...: each fetches every URL that J or any of its
re-crawls recorded, follows no link, and is compared with the fetches before it by the history
views (`new_links`, `lost_links`, `refdomain_changes`). `linkgraph recrawl` (crawler/cli/
history.py) and the service's schedule (crawler/service/schedule.py) both start them from here.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import asdict
from typing import Any

from clickhouse_connect.driver.client import Client

from crawler.cli.common import JOB_NAME
from crawler.errors import UsageError
from crawler.jobspec import JobSpec

# An index query: (SQL with {name:Type} parameters, their values) -> rows. The CLI's comes
# from a client of its own (`client_rows`), the service's is IndexReads.rows.
Rows = Callable[[str, dict[str, Any] | None], list[tuple[Any, ...]]]

RECRAWL_SUFFIX = re.compile(r"\.r\d+$")
# The family of a job: the job and its re-crawls.
FAMILY_SQL = (
    "SELECT DISTINCT job FROM pages "
    "WHERE job = {base:String} OR match(job, concat('^', {quoted:String}, '\\\\.r[0-9]+$'))"
)
# Spec fields a re-crawl submitted to the service does not take from its source job: its name
# and index are the service's, and its seeds are the pages.
NOT_INHERITED = ("job", "clickhouse_url", "database", "seed_domains")


def base_job(job: str) -> str:
    """The job whose re-crawl `job` is (itself when it is none)."""
    return RECRAWL_SUFFIX.sub("", job)


def is_recrawl(job: str) -> bool:
    return RECRAWL_SUFFIX.search(job) is not None


def client_rows(client: Client) -> Rows:
    def rows(sql: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in client.query(sql, parameters=params or {}).result_rows]

    return rows


def page_urls(rows: Rows, base: str) -> tuple[list[str], list[str]]:
    """(every URL recorded by job `base` or its re-crawls, the names of those jobs)."""
    params = {"base": base, "quoted": re.escape(base)}
    jobs = sorted(row[0] for row in rows(FAMILY_SQL, params))
    urls = rows(f"SELECT DISTINCT url FROM pages WHERE job IN ({FAMILY_SQL}) ORDER BY url", params)
    return [row[0] for row in urls], jobs


def next_job(base: str, jobs: Iterable[str]) -> str:
    """The name of the next re-crawl of `base`: base.rN, N one more than any in `jobs`."""
    numbers = [int(j.rsplit(".r", 1)[1]) for j in jobs if base_job(j) == base and is_recrawl(j)]
    name = f"{base}.r{max(numbers, default=0) + 1}"
    if not JOB_NAME.match(name):
        raise UsageError(f"{name!r} is too long for a job name: choose one with --job")
    return name


def recrawl_spec(source: JobSpec) -> dict[str, Any]:
    """The spec (JobSpec field names, as the service's submit takes them) of a re-crawl of
    `source`: its own settings, but no link followed, no page limit (the pages are the seeds)
    and no schedule of its own (the schedule is the source job's)."""
    spec = {name: value for name, value in asdict(source).items() if name not in NOT_INHERITED}
    spec.update(follow_links=False, max_pages=0, recrawl_every=0.0)
    return spec


def link_changes(rows: Rows, job: str) -> tuple[int, int]:
    """(new links, lost links) of `job`."""
    params = {"job": job}
    new = rows("SELECT count() FROM new_links WHERE job = {job:String}", params)[0][0]
    lost = rows("SELECT count() FROM lost_links WHERE job = {job:String}", params)[0][0]
    return int(new), int(lost)
