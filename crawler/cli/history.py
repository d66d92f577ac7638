"""`linkgraph recrawl JOB`: fetch a job's pages again, politely, and nothing else (crawler/
recrawls.py). The backlinks gained and lost are then reported by `linkgraph changes`, the
referring domains by `linkgraph refdomain-changes` (crawler/reports); with a webhook, the
watched domains' ones are POSTed to it (crawler/alerts.py)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from crawler import jobs
from crawler.alerts import AlertConfig, send_alert
from crawler.cli.common import add_redis, add_storage, job_name, storage_target
from crawler.cli.crawl import print_summary, process_options
from crawler.cli.jobflags import add_job_flags, add_output_flags, given_settings
from crawler.errors import UsageError
from crawler.frontier.connection import connect as connect_redis
from crawler.recrawls import base_job, client_rows, link_changes, next_job, page_urls
from crawler.run import redis_for, run_crawl
from crawler.storage import connect

# What a re-crawl takes from its job's saved spec when not given: where its alerts go.
ALERTS = ("LINKGRAPH_WATCH_DOMAINS", "LINKGRAPH_ALERT_WEBHOOK")


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
    add_job_flags(p, follows=False)  # the indexed pages only: no link is followed
    add_output_flags(p)
    p.set_defaults(func=run_recrawl)


def saved_alerts(args: argparse.Namespace, base: str, given: dict[str, Any]) -> dict[str, Any]:
    """The alert settings of job `base`'s saved spec that were not given."""
    missing = [name for name in ALERTS if name not in given]
    if not missing:
        return {}
    with redis_for(args.redis, args.data_dir) as url:
        client = connect_redis(url)
        spec = jobs.load(client, base)
        client.close()
    if spec is None:
        return {}
    saved = spec.scrapy_settings()
    return {name: saved[name] for name in missing if saved[name]}


def run_recrawl(args: argparse.Namespace) -> int:
    given = given_settings(args)  # checked before anything starts
    # the indexed pages only: new links are recorded, not followed
    given["LINKGRAPH_FOLLOW_LINKS"] = False
    target = storage_target(args)
    base = base_job(args.source_job)
    urls, known = page_urls(client_rows(connect(target)), base)
    if not urls:
        raise UsageError(
            f"job {args.source_job!r} has no pages in the index at {target.describe()}"
        )
    job = args.job or next_job(base, known)
    given.update(saved_alerts(args, base, given))
    print(f"re-crawling {len(urls):,} pages of {base} as job {job}", file=sys.stderr)
    result = run_crawl(job, process_options(args), given, urls)
    print_summary(result)
    rows = client_rows(connect(target))
    new, lost = link_changes(rows, job)
    print(f"job {job}: {new:,} new links, {lost:,} lost links", file=sys.stderr)
    alerted = send_alert(rows, job, AlertConfig.from_settings(given))
    if alerted.line:
        print(alerted.line, file=sys.stderr)
    return 0 if result.finish_reason in ("finished", "shutdown") else 1
