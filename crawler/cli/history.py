"""`linkgraph recrawl JOB` (fetch a job's pages again, politely, and nothing else) and
`linkgraph changes TARGET --since DATE` (backlinks gained and lost, from `new_links` and
`lost_links`)."""

from __future__ import annotations

import argparse
import re
import sys

from crawler.cli.common import JOB_NAME, add_redis, add_storage, job_name, storage_target
from crawler.cli.crawl import add_crawl_limits, print_summary
from crawler.cli.filters import bind, literal, parse_date, target_filter, time_literal
from crawler.cli.query import add_output, emit
from crawler.errors import UsageError
from crawler.run import CrawlOptions, run_crawl
from crawler.storage import StorageTarget, connect

RECRAWL_SUFFIX = re.compile(r"\.r\d+$")
CHANGES_SQL = """
SELECT change, at, src_url, dst_url, anchor, follow, reason, detail FROM (
    SELECT 'new' AS change, seen_at AS at, src_url, dst_url, anchor, follow,
           '' AS reason, '' AS detail, src_domain, dst_domain, dst_host
    FROM new_links WHERE {where} AND seen_at >= {since} AND seen_at < {until}
    UNION ALL
    SELECT 'lost' AS change, lost_at AS at, src_url, dst_url, anchor, follow, reason, detail,
           src_domain, dst_domain, dst_host
    FROM lost_links WHERE {where} AND lost_at >= {since} AND lost_at < {until}
)
WHERE src_domain != dst_domain
ORDER BY at, change, src_url, dst_url
LIMIT {limit}
"""


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
    add_crawl_limits(p)
    p.set_defaults(func=run_recrawl)
    text = "backlinks a domain, host or page gained and lost since a date"
    p = sub.add_parser("changes", help=text, description=text[0].upper() + text[1:] + ".")
    p.add_argument("target", metavar="TARGET", help="a registered domain, a host name or a URL")
    p.add_argument(
        "--since",
        type=parse_date,
        required=True,
        metavar="DATE",
        help="changes at or after DATE (YYYY-MM-DD or an ISO date-time, UTC)",
    )
    p.add_argument("--until", type=parse_date, metavar="DATE", help="changes before DATE")
    add_output(p)
    p.set_defaults(func=run_changes)


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
    target = storage_target(args)
    base = RECRAWL_SUFFIX.sub("", args.source_job)
    urls, jobs = page_urls(target, base)
    if not urls:
        raise UsageError(
            f"job {args.source_job!r} has no pages in the index at {target.describe()}"
        )
    job = args.job or next_job(base, jobs)
    options = CrawlOptions(
        job=job,
        seeds=urls,
        storage=target,
        redis_url=args.redis,
        max_pages=args.max_pages,
        max_pages_per_host=args.max_pages_per_host,
        max_depth=args.max_depth,
        follow_links=False,  # the indexed pages only: new links are recorded, not followed
        delay=args.delay,
        hosts_file=args.hosts_file,
        allow_private=args.allow_private,
        user_agent=args.user_agent,
        log_level="INFO" if args.verbose else "WARNING",
        progress_seconds=0 if args.quiet else 5.0,
        extra_settings=dict(getattr(args, "set", [])),
    )
    print(f"re-crawling {len(urls):,} pages of {base} as job {job}", file=sys.stderr)
    result = run_crawl(options)
    print_summary(result)
    client = connect(target)
    job_lit = literal(job)
    new = client.query(f"SELECT count() FROM new_links WHERE job = {job_lit}").result_rows[0][0]
    lost = client.query(f"SELECT count() FROM lost_links WHERE job = {job_lit}").result_rows[0][0]
    print(f"job {job}: {new:,} new links, {lost:,} lost links", file=sys.stderr)
    return 0 if result.finish_reason in ("finished", "shutdown") else 1


def run_changes(args: argparse.Namespace) -> int:
    where, params = target_filter(args.target)
    until = time_literal(args.until) if args.until else "toDateTime64('2299-12-31', 3, 'UTC')"
    sql = CHANGES_SQL.format(
        where=bind(where, params), since=time_literal(args.since), until=until, limit=args.limit
    )
    return emit(args, sql)
