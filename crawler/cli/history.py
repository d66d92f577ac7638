"""`linkgraph recrawl JOB`: fetch a job's pages again, politely, and nothing else. The backlinks
gained and lost are then reported by `linkgraph changes` (crawler/reports)."""

from __future__ import annotations

import argparse
import re
import sys

from crawler.cli.common import JOB_NAME, add_redis, add_storage, job_name, storage_target
from crawler.cli.crawl import print_summary, process_options
from crawler.cli.filters import literal
from crawler.cli.jobflags import add_job_flags, add_output_flags, given_settings
from crawler.errors import UsageError
from crawler.run import run_crawl
from crawler.storage import StorageTarget, connect

RECRAWL_SUFFIX = re.compile(r"\.r\d+$")


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    text = "fetch the pages a job indexed again (and nothing else), to find new and lost links"
    p = sub.add_parser("recrawl", help=text, description=text[0].upper() + text[1:] + ".")
    p.add_argument("source_job", metavar="JOB", type=job_name, help="the job whose pages to fetch")
    p.add_argument(
        "--job",
        type=job_name,
        default=None,
        help="name of the re-crawl job (default: JOB.rN, the next free N)",
    )
    add_storage(p)
    add_redis(p)
    add_job_flags(p)
    add_output_flags(p)
    p.set_defaults(func=run_recrawl)


def page_urls(target: StorageTarget, base: str) -> tuple[list[str], list[str]]:
    """(every URL recorded by the job or its re-crawls, the names of those jobs)."""
    client = connect(target)
    pattern = literal("^" + re.escape(base) + r"\.r[0-9]+$")
    jobs_sql = (
        f"SELECT DISTINCT job FROM pages WHERE job = {literal(base)} OR match(job, {pattern})"
    )
    jobs = sorted(row[0] for row in client.query(jobs_sql).result_rows)
    urls = client.query(f"SELECT DISTINCT url FROM pages WHERE job IN ({jobs_sql}) ORDER BY url")
    return [row[0] for row in urls.result_rows], jobs


def next_job(base: str, jobs: list[str]) -> str:
    numbers = [int(j.rsplit(".r", 1)[1]) for j in jobs if RECRAWL_SUFFIX.search(j)]
    name = f"{base}.r{max(numbers, default=0) + 1}"
    if not JOB_NAME.match(name):
        raise UsageError(f"{name!r} is too long for a job name: choose one with --job")
    return name


def run_recrawl(args: argparse.Namespace) -> int:
    given = given_settings(args)  # checked before anything starts
    # the indexed pages only: new links are recorded, not followed
    given["LINKGRAPH_FOLLOW_LINKS"] = False
    target = storage_target(args)
    base = RECRAWL_SUFFIX.sub("", args.source_job)
    urls, jobs = page_urls(target, base)
    if not urls:
        raise UsageError(
            f"job {args.source_job!r} has no pages in the index at {target.describe()}"
        )
    job = args.job or next_job(base, jobs)
    print(f"re-crawling {len(urls):,} pages of {base} as job {job}", file=sys.stderr)
    result = run_crawl(job, process_options(args), given, urls)
    print_summary(result)
    client = connect(target)
    job_lit = literal(job)
    new = client.query(f"SELECT count() FROM new_links WHERE job = {job_lit}").result_rows[0][0]
    lost = client.query(f"SELECT count() FROM lost_links WHERE job = {job_lit}").result_rows[0][0]
    print(f"job {job}: {new:,} new links, {lost:,} lost links", file=sys.stderr)
    return 0 if result.finish_reason in ("finished", "shutdown") else 1
