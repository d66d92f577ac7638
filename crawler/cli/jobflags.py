"""The flags that set a crawl job's spec, and the checked settings they give.

Every job flag defaults to None, so that only the flags given are known: a resume changes just
those. Values are checked against their setting's type here, before any server is started, so
a bad one is one line (exit 2) and nothing is saved.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path
from typing import Any

from crawler import settings as defaults
from crawler.errors import UsageError
from crawler.jobspec import FIELDS, NOT_BY_SET, hide_password
from crawler.resolver import read_hosts_file
from crawler.scope import SCOPES, read_domains
from crawler.setting_values import check_value
from crawler.storage import database_from_url

# Settings a process also takes from the environment variable of the same name, never saved
# with the job: the way to give one with a password (see crawler/settings.py).
FROM_ENVIRONMENT = ("LINKGRAPH_PROXY",)
# argparse dest -> the setting its flag sets (as text, checked like `-s NAME=VALUE`)
FLAG_SETTINGS = {
    "max_pages": "LINKGRAPH_MAX_PAGES",
    "max_pages_per_host": "LINKGRAPH_MAX_PAGES_PER_HOST",
    "max_depth": "LINKGRAPH_MAX_DEPTH",
    "delay": "LINKGRAPH_DELAY",
    "allow_private": "LINKGRAPH_ALLOW_PRIVATE",
    "user_agent": "USER_AGENT",
    "lease_seconds": "LINKGRAPH_LEASE_SECONDS",
    "scope": "LINKGRAPH_SCOPE",
    "recrawl_every": "LINKGRAPH_RECRAWL_EVERY",
    "alert_webhook": "LINKGRAPH_ALERT_WEBHOOK",
    "dedupe": "LINKGRAPH_DEDUPE",
    "bloom_capacity": "LINKGRAPH_BLOOM_CAPACITY",
    "bloom_error_rate": "LINKGRAPH_BLOOM_ERROR_RATE",
}


def add_job_flags(p: argparse.ArgumentParser, *, follows: bool = True) -> None:
    """The job flags; `follows=False` for a job that follows no link (a re-crawl), where
    --max-depth would do nothing, and which has no schedule of its own (--recrawl-every)."""
    p.add_argument("--max-pages", metavar="N", help="stop after N pages in the job (0: no limit)")
    p.add_argument("--max-pages-per-host", metavar="N",
                   help="queue at most N URLs of one host (0: no limit)")  # fmt: skip
    if follows:
        p.add_argument("--max-depth", metavar="N",
                       help="follow links at most N hops from a seed (default "
                       f"{defaults.LINKGRAPH_MAX_DEPTH}; 0: no limit)")  # fmt: skip
    p.add_argument(
        "--delay",
        metavar="S",
        help="seconds between requests to one host (a larger robots.txt Crawl-delay wins; "
        f"default {defaults.LINKGRAPH_DELAY})",
    )
    p.add_argument("--hosts-file", metavar="FILE",
                   help="an /etc/hosts-format file of names to resolve for this crawl; its "
                   "names are saved with the job, for every worker")  # fmt: skip
    p.add_argument(
        "--allow-private",
        action=argparse.BooleanOptionalAction,
        help="allow private, loopback and link-local addresses (refused by default)",
    )
    p.add_argument(
        "--user-agent",
        metavar="UA",
        help=f"User-Agent header (default: {defaults.USER_AGENT}); robots.txt is matched "
        "for the product token 'linkgraph'",
    )
    p.add_argument(
        "--lease-seconds",
        metavar="S",
        help="a request not recorded this long after it was handed out (its worker died) is "
        f"handed out again (default {defaults.LINKGRAPH_LEASE_SECONDS:g})",
    )
    p.add_argument("--dedupe", metavar="{exact,bloom}",
                   help="how the job tells the URLs it has seen, fixed when it is created: "
                   "exact (the default; 40-48 bytes of Redis per URL) or bloom (a Bloom filter, "
                   "1.2 bytes per URL at 1%%, 1.8 at 0.1%%; a false positive is a URL never "
                   "fetched)")  # fmt: skip
    p.add_argument("--bloom-capacity", metavar="N",
                   help="URLs the job's Bloom filter is sized for (default "
                   f"{defaults.LINKGRAPH_BLOOM_CAPACITY:,}); beyond them its rate "
                   "climbs")  # fmt: skip
    p.add_argument("--bloom-error-rate", metavar="P",
                   help="its false-positive rate once that many URLs are in (default "
                   f"{defaults.LINKGRAPH_BLOOM_ERROR_RATE:g})")  # fmt: skip
    if follows:
        p.add_argument("--recrawl-every", metavar="S",
                       help="`linkgraph serve` re-crawls the job S seconds after each crawl of "
                       "it starts (0: never, the default)")  # fmt: skip
    p.add_argument("--watch-domain", action="append", metavar="DOMAIN",
                   help="after a re-crawl, alert on the new and lost referring domains of this "
                   "registered domain (repeatable)")  # fmt: skip
    p.add_argument("--alert-webhook", metavar="URL",
                   help="POST those alerts as JSON to this http(s) URL")  # fmt: skip
    p.add_argument(
        "-s",
        "--set",
        action="append",
        metavar="NAME=VALUE",
        help="set a setting of crawler/settings.py or Scrapy's, for every worker (repeatable)",
    )


def add_scope_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--scope",
        metavar="{" + ",".join(SCOPES) + "}",
        help="follow links anywhere (all, the default), only within the linking "
        "page's domain, or only within the seeds' domains",
    )
    p.add_argument("--allow-domain", action="append", metavar="DOMAIN",
                   help="follow only links into these domains and their subdomains "
                   "(repeatable)")  # fmt: skip
    p.add_argument("--deny-domain", action="append", metavar="DOMAIN",
                   help="never follow links into these domains (repeatable)")  # fmt: skip
    p.add_argument("--allow-domains-file", action="append", metavar="FILE",
                   help="more allowed domains, one per line")  # fmt: skip
    p.add_argument("--deny-domains-file", action="append", metavar="FILE",
                   help="more denied domains, one per line")  # fmt: skip


def add_output_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("-v", "--verbose", action="store_true", help="show Scrapy's log")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines")


def own_clickhouse_url(args: argparse.Namespace) -> str | None:
    """The ClickHouse URL given to this process (flag, else environment); None: not given."""
    url = getattr(args, "clickhouse", None)
    return url if url is not None else os.environ.get("LINKGRAPH_CLICKHOUSE_URL")


def writable_dir(path: str | Path, flag: str) -> Path:
    """`path` made if missing, once a file could be created in it: a directory the crawl
    cannot write to is one line before anything starts, not a failure inside Scrapy."""
    directory = Path(path)
    if directory.exists() and not directory.is_dir():
        raise UsageError(f"{flag} {path}: not a directory")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=directory):
            pass
    except OSError as exc:
        raise UsageError(f"{flag} {path}: cannot write there: {exc.strerror}") from None
    return directory


def given_settings(args: argparse.Namespace) -> dict[str, Any]:
    """Setting name -> checked value, for every job flag and `-s NAME=VALUE` given."""
    given = _set_values(getattr(args, "set", None) or [])
    for dest, name in FLAG_SETTINGS.items():
        text = getattr(args, dest, None)
        if text is None:
            continue
        flag = "--" + dest.replace("_", "-")
        if name in given:
            raise UsageError(f"{flag} and -s {name} set the same thing: give one of them")
        given[name] = check_value(name, text, f"argument {flag}")
    if getattr(args, "hosts_file", None):
        given["LINKGRAPH_HOSTS"] = read_hosts_file(args.hosts_file)
    for kind in ("allow", "deny"):
        names = getattr(args, f"{kind}_domain", None) or []
        files = getattr(args, f"{kind}_domains_file", None) or []
        if names or files:
            given[f"LINKGRAPH_{kind.upper()}_DOMAINS"] = sorted(read_domains(names, files))
    given.update(_alert_settings(args, given))
    given.update(_index_settings(args))
    for name in FROM_ENVIRONMENT:  # read by each process itself, but checked here first
        if os.environ.get(name):
            check_value(name, os.environ[name], f"${name}")
    return given


def _alert_settings(args: argparse.Namespace, given: dict[str, Any]) -> dict[str, Any]:
    alerts: dict[str, Any] = {}
    watched = getattr(args, "watch_domain", None)
    if watched:
        if "LINKGRAPH_WATCH_DOMAINS" in given:
            raise UsageError("--watch-domain and -s LINKGRAPH_WATCH_DOMAINS set the same thing: "
                             "give one of them")  # fmt: skip
        where = "argument --watch-domain"
        alerts["LINKGRAPH_WATCH_DOMAINS"] = check_value("LINKGRAPH_WATCH_DOMAINS", watched, where)
    webhook = getattr(args, "alert_webhook", None)
    if webhook and _without_password(webhook) != webhook:
        raise UsageError("argument --alert-webhook: it would save a password with the job: put "
                         "the receiver's secret in the URL's path or query")  # fmt: skip
    return alerts


def _index_settings(args: argparse.Namespace) -> dict[str, Any]:
    url = own_clickhouse_url(args)
    database = getattr(args, "database", None)
    if database is None:
        database = os.environ.get("LINKGRAPH_DATABASE")
    given: dict[str, Any] = {}
    if url is not None:
        given["LINKGRAPH_CLICKHOUSE_URL"] = hide_password(url)
    if database:
        given["LINKGRAPH_DATABASE"] = database
    elif url is not None:
        given["LINKGRAPH_DATABASE"] = database_from_url(url, defaults.LINKGRAPH_DATABASE)
    return given


def _set_values(pairs: list[str]) -> dict[str, Any]:
    given: dict[str, Any] = {}
    for text in pairs:
        name, sep, value = text.partition("=")
        name = name.strip()
        shown = _without_password(value)
        where = f"-s {text}" if shown == value else f"-s {name}={shown}"
        if not sep or not name:
            raise UsageError(f"{where}: expected NAME=VALUE")
        if name in NOT_BY_SET:
            raise UsageError(f"{where}: {name} is set by {NOT_BY_SET[name]}, not by -s")
        if name not in FIELDS and not _known(name):
            raise UsageError(
                f"{where}: no setting {name} in crawler/settings.py or Scrapy's defaults"
            )
        given[name] = check_value(name, value, where)
        if shown != value:
            # -s values are saved with the job, where every worker reads them
            instead = f"give the URL in ${name}" if name in FROM_ENVIRONMENT else "leave it out"
            raise UsageError(f"{where}: it would save a password with the job: {instead}")
    return given


def _without_password(value: str) -> str:
    try:
        return hide_password(value.strip())
    except ValueError:  # not a URL at all (e.g. a bad IPv6 literal): nothing to hide
        return value


def _known(name: str) -> bool:
    from scrapy.settings import default_settings

    return name.isupper() and (hasattr(defaults, name) or hasattr(default_settings, name))
