"""`linkgraph crawl`: run a crawl job until its frontier is exhausted or a limit is reached."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from crawler import USER_AGENT
from crawler.cli.common import (
    add_redis,
    add_storage,
    job_name,
    non_negative_float,
    non_negative_int,
    positive_int,
    storage_target,
)
from crawler.errors import UsageError
from crawler.run import CrawlOptions, CrawlResult, run_crawl
from crawler.scope import SCOPES, read_domains
from crawler.urls import canonicalize, host_of, registered_domain


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "crawl",
        help="crawl from seed URLs (or resume a job) and index every link found",
        description="Crawl the web from seed URLs, politely (robots.txt, per-host delay), and "
        "record every page and link in the index. Re-running a job resumes it.",
    )
    p.add_argument("urls", nargs="*", metavar="URL", help="seed URLs (http or https)")
    p.add_argument("--seeds-file", metavar="FILE", help="more seeds, one URL per line (# comments)")
    p.add_argument("--job", type=job_name, default="default", help="job name (default: default)")
    add_storage(p)
    add_redis(p)
    add_crawl_limits(p)
    p.add_argument("--warc", metavar="DIR", default="", help="also archive responses as WARC here")
    add_scope(p)
    p.add_argument(
        "--workers",
        type=positive_int,
        default=os.cpu_count() or 1,
        metavar="N",
        help="crawling processes on this machine (default: the number of cores); more can "
        "join from anywhere with `linkgraph worker`",
    )
    p.add_argument(
        "--lease-seconds",
        type=non_negative_float,
        default=300.0,
        metavar="S",
        help="a request not recorded this long after it was handed out (its worker died) is "
        "handed out again (default 300)",
    )
    p.set_defaults(func=run)


def add_crawl_limits(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--max-pages",
        type=non_negative_int,
        default=0,
        metavar="N",
        help="stop after N pages in the job (0: no limit)",
    )
    p.add_argument(
        "--max-pages-per-host",
        type=non_negative_int,
        default=0,
        metavar="N",
        help="queue at most N URLs of one host (0: no limit)",
    )
    p.add_argument(
        "--max-depth",
        type=non_negative_int,
        default=0,
        metavar="N",
        help="follow links at most N hops from a seed (0: no limit)",
    )
    p.add_argument(
        "--delay",
        type=non_negative_float,
        default=1.0,
        metavar="S",
        help="seconds between requests to one host (a larger robots.txt "
        "Crawl-delay wins; default 1.0)",
    )
    p.add_argument(
        "--hosts-file",
        metavar="FILE",
        default="",
        help="an /etc/hosts-format file of names to resolve for this crawl",
    )
    p.add_argument(
        "--allow-private",
        action="store_true",
        help="allow private, loopback and link-local addresses (refused by default)",
    )
    p.add_argument(
        "--user-agent",
        metavar="UA",
        default=USER_AGENT,
        help=f"User-Agent header (default: {USER_AGENT}); robots.txt is matched "
        "for the product token 'linkgraph'",
    )
    p.add_argument(
        "-s",
        "--set",
        action="append",
        default=[],
        type=setting,
        metavar="NAME=VALUE",
        help="set any setting listed in crawler/settings.py (repeatable)",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="show Scrapy's log")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines")


def add_scope(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--scope",
        choices=SCOPES,
        default="all",
        help="follow links anywhere (all, the default), only within the linking "
        "page's domain, or only within the seeds' domains",
    )
    p.add_argument(
        "--allow-domain",
        action="append",
        default=[],
        metavar="DOMAIN",
        help="follow only links into these domains and their subdomains (repeatable)",
    )
    p.add_argument(
        "--deny-domain",
        action="append",
        default=[],
        metavar="DOMAIN",
        help="never follow links into these domains (repeatable)",
    )
    p.add_argument(
        "--allow-domains-file",
        action="append",
        default=[],
        metavar="FILE",
        help="more allowed domains, one per line",
    )
    p.add_argument("--deny-domains-file", action="append", default=[], metavar="FILE",
                   help="more denied domains, one per line")  # fmt: skip


def scope_settings(args: argparse.Namespace, seeds: list[str]) -> dict[str, object]:
    return {
        "LINKGRAPH_SCOPE": args.scope,
        "LINKGRAPH_SEED_DOMAINS": sorted({registered_domain(host_of(u)) for u in seeds}),
        "LINKGRAPH_ALLOW_DOMAINS": sorted(read_domains(args.allow_domain, args.allow_domains_file)),
        "LINKGRAPH_DENY_DOMAINS": sorted(read_domains(args.deny_domain, args.deny_domains_file)),
    }


def setting(text: str) -> tuple[str, str]:
    from crawler import settings

    name, sep, value = text.partition("=")
    if not sep or not hasattr(settings, name.strip()):
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected NAME=VALUE with a NAME listed in crawler/settings.py"
        )
    return name.strip(), value


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


def options_from(args: argparse.Namespace, seeds: list[str]) -> CrawlOptions:
    return CrawlOptions(
        job=args.job,
        seeds=seeds,
        storage=storage_target(args),
        redis_url=args.redis,
        max_pages=args.max_pages,
        max_pages_per_host=args.max_pages_per_host,
        max_depth=args.max_depth,
        delay=args.delay,
        hosts_file=args.hosts_file,
        allow_private=args.allow_private,
        user_agent=args.user_agent,
        warc_dir=getattr(args, "warc", ""),
        log_level="INFO" if args.verbose else "WARNING",
        progress_seconds=0 if args.quiet else 5.0,
        workers=getattr(args, "workers", 1),
        extra_settings={**scope_settings(args, seeds), **dict(args.set)},
        lease_seconds=getattr(args, "lease_seconds", 300.0),
    )


def print_summary(result: CrawlResult) -> None:
    f = result.frontier
    print(
        f"job {result.job}: {result.finish_reason}; this run recorded {result.pages} pages and "
        f"{result.links} links; job total {f.get('recorded', 0)} pages recorded, "
        f"{f.get('seen', 0)} URLs seen, {f.get('queued', 0)} still queued, "
        f"{f.get('leased', 0)} unfinished",
        file=sys.stderr,
    )


def run(args: argparse.Namespace) -> int:
    result = run_crawl(options_from(args, load_seeds(args.urls, args.seeds_file)))
    print_summary(result)
    return 0 if result.finish_reason in ("finished", "shutdown") else 1
