"""`linkgraph crawl`: run a crawl job until its frontier is exhausted or a limit is reached."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from crawler import settings as defaults
from crawler.cli.common import add_data_dir, add_redis, job_name, positive_int
from crawler.cli.jobflags import (
    add_job_flags,
    add_output_flags,
    add_scope_flags,
    given_settings,
    own_clickhouse_url,
    writable_dir,
)
from crawler.cli.submit import job_body, owner_for_crawl, submit
from crawler.errors import UsageError
from crawler.jobconfig import read_config
from crawler.run import INTERRUPTED, CrawlResult, ProcessOptions, run_crawl
from crawler.sitemaps import seed_sitemaps
from crawler.summary import summary_lines
from crawler.urls import canonicalize


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "crawl",
        help="crawl from seed URLs (or resume a job) and index every link found",
        description="Crawl the web from seed URLs, politely (robots.txt, per-host delay), and "
        "record every page and link in the index. Re-running a job resumes it with its saved "
        "settings; the flags given then change only what they name.",
    )
    p.add_argument("urls", nargs="*", metavar="URL", help="seed URLs (http or https)")
    p.add_argument("--seeds-file", metavar="FILE", help="more seeds, one URL per line (# comments)")
    p.add_argument("--job", type=job_name, help="job name (default: the --config file's, "
                   f"else {defaults.LINKGRAPH_JOB})")  # fmt: skip
    p.add_argument(
        "--config",
        metavar="FILE",
        help="read the job spec, seeds and workers from a TOML file (as `linkgraph jobs show "
        "JOB` prints it); flags override it",
    )
    add_data_dir(p)
    p.add_argument(
        "--clickhouse",
        metavar="URL",
        help="a ClickHouse server, http(s)://user:pass@host:8123/db (default: "
        "$LINKGRAPH_CLICKHOUSE_URL, else the job's, else embedded chDB in the data dir); "
        "the job saves it without the password",
    )
    p.add_argument("--database", help="database holding the index (default: the URL's path, "
                   f"else {defaults.LINKGRAPH_DATABASE!r})")  # fmt: skip
    add_redis(p)
    add_job_flags(p)
    add_output_flags(p)
    p.add_argument("--warc", metavar="DIR", default="", help="also archive responses as WARC here")
    add_scope_flags(p)
    p.add_argument(
        "--sitemaps",
        dest="sitemaps",
        action="store_const",
        const="all",
        help="also read /sitemap.xml of every host (by default only the sitemaps robots.txt "
        "names are read)",
    )
    p.add_argument(
        "--no-sitemaps",
        dest="sitemaps",
        action="store_const",
        const="none",
        help="read no sitemap, not even those robots.txt names",
    )
    p.add_argument(
        "--seed-sitemaps",
        action="append",
        default=[],
        metavar="DOMAIN",
        help="seed the crawl from a domain's sitemaps: its /sitemap.xml (https, or the origin "
        "of a URL given) and those its robots.txt names; repeatable",
    )
    p.add_argument(
        "--workers",
        type=positive_int,
        metavar="N",
        help="crawling processes on this machine (default: the number of cores); more can "
        "join from anywhere with `linkgraph worker`",
    )
    p.set_defaults(func=run)


def process_options(args: argparse.Namespace, **more: Any) -> ProcessOptions:
    """This process's own options, from the flags every crawling command shares."""
    return ProcessOptions(
        data_dir=args.data_dir,
        redis_url=args.redis,
        clickhouse_url=own_clickhouse_url(args) or "",
        log_level="INFO" if args.verbose else "WARNING",
        progress=not args.quiet,
        **more,
    )


def load_seeds(urls: list[str], seeds_file: str | None) -> list[str]:
    """Canonical seed URLs; a malformed one stops everything before anything is fetched."""
    pairs = [(f"argument {i}", u) for i, u in enumerate(urls, 1)]
    if seeds_file:
        try:
            text = Path(seeds_file).read_text(encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"cannot read seeds file {seeds_file}: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise UsageError(f"seeds file {seeds_file} is not UTF-8 text") from None
        for number, line in enumerate(text.splitlines(), 1):
            line = line.split("#", 1)[0].strip() if line.lstrip().startswith("#") else line.strip()
            if line:
                pairs.append((f"{seeds_file}:{number}", line))
    seeds = []
    for where, url in pairs:
        canonical = canonicalize(url)
        if canonical is None:
            raise UsageError(f"{where}: {url!r} is not an absolute http(s) URL")
        seeds.append(canonical)
    return list(dict.fromkeys(seeds))


def seed_sitemap_urls(targets: list[str]) -> list[str]:
    """The `/sitemap.xml` of each --seed-sitemaps domain (or URL's origin)."""
    urls = []
    for target in targets:
        url = seed_sitemaps(target)
        if url is None:
            raise UsageError(f"--seed-sitemaps: {target!r} is not a domain name or http(s) URL")
        urls.append(url)
    return list(dict.fromkeys(urls))


def print_summary(result: CrawlResult) -> None:
    """The run's line, then the job's end summary (crawler/summary.py) if this process ran it."""
    f = result.frontier
    print(
        f"job {result.job}: {result.finish_reason}; this run recorded {result.pages} pages and "
        f"{result.links} links; job total {f.get('recorded', 0)} pages recorded, "
        f"{f.get('seen', 0)} URLs seen, {f.get('queued', 0)} still queued, "
        f"{f.get('leased', 0)} unfinished",
        file=sys.stderr,
    )
    stats = result.job_stats
    if stats is not None and stats.summary is not None:
        print("\n".join(summary_lines(result.job, stats.summary)), file=sys.stderr)


def with_config(args: argparse.Namespace) -> tuple[list[str], dict[str, Any]]:
    """The seeds and checked settings of the flags over those of the --config file; fills in
    the job name and workers the flags leave out."""
    config = read_config(args.config) if args.config else None
    seeds = load_seeds(args.urls, args.seeds_file)
    if config is not None:
        seeds = seeds or config.seeds
        if args.clickhouse is None and config.clickhouse_url is not None:
            args.clickhouse = config.clickhouse_url  # as a flag: its password is not saved
    args.job = args.job or (config and config.job) or defaults.LINKGRAPH_JOB
    args.workers = args.workers or (config and config.workers) or os.cpu_count() or 1
    return seeds, {**(config.given if config else {}), **given_settings(args)}


def run(args: argparse.Namespace) -> int:
    seeds, given = with_config(args)  # checked before anything starts
    if args.sitemaps:
        given["LINKGRAPH_SITEMAPS"] = args.sitemaps
    if args.seed_sitemaps:
        sitemaps = seed_sitemap_urls(args.seed_sitemaps)
        given["LINKGRAPH_SEED_SITEMAPS"] = sitemaps
        seeds = list(dict.fromkeys([*seeds, *sitemaps]))  # read first, at depth 0
    warc = str(writable_dir(args.warc, "--warc")) if args.warc else ""
    writable_dir(args.data_dir, "--data-dir")
    owner = owner_for_crawl(args, own_clickhouse_url(args))
    if owner is not None:  # `linkgraph serve` owns the data dir: it runs the job
        return submit(owner, job_body(args.job, given, seeds, args.workers), args.data_dir)
    process = process_options(args, workers=args.workers, warc_dir=warc)
    result = run_crawl(args.job, process, given, seeds)
    print_summary(result)
    return exit_status(result)


def exit_status(result: CrawlResult) -> int:
    """0 for a job finished or stopped gracefully (Ctrl-C, SIGTERM, `linkgraph stop`), 130 for
    one stopped at once (a second Ctrl-C), 1 for a crawl ended by an error."""
    if result.finish_reason == INTERRUPTED:
        return 130
    return 0 if result.finish_reason in ("finished", "shutdown") else 1
