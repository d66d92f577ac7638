"""`linkgraph sql` and the readable reports over the index's views."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from crawler.cli.common import add_storage, non_negative_int, storage_target
from crawler.cli.filters import add_backlink_filters, backlink_conditions, bind, target_filter
from crawler.errors import UsageError
from crawler.storage import connect, run_query

# A report: (help, SQL with {where} and {limit}); the target is bound as a query parameter.
REPORTS: dict[str, tuple[str, str]] = {
    "backlinks": (
        "backlinks of a domain, host or page: source page, target page, anchor, follow",
        "SELECT src_url, dst_url, anchor, follow, first_seen, last_seen FROM backlinks "
        "WHERE {where} ORDER BY follow DESC, src_domain, src_url, dst_url LIMIT {limit}",
    ),
    "refdomains": (
        "referring domains of a domain, with their backlink counts and authority",
        "SELECT b.src_domain AS src_domain, b.backlinks AS backlinks, "
        "b.follow_backlinks AS follow_backlinks, b.linked_pages AS linked_pages, "
        "r.authority AS authority, b.first_seen AS first_seen, b.last_seen AS last_seen "
        "FROM (SELECT src_domain, count() AS backlinks, countIf(follow = 1) AS follow_backlinks, "
        "uniqExact(dst_url) AS linked_pages, min(first_seen) AS first_seen, "
        "max(last_seen) AS last_seen FROM backlinks WHERE {where} GROUP BY src_domain) AS b "
        "LEFT JOIN domain_rank AS r ON r.domain = b.src_domain "
        "ORDER BY backlinks DESC, src_domain LIMIT {limit}",
    ),
    "anchors": (
        "anchor texts of the backlinks of a domain",
        "SELECT anchor, backlinks, referring_domains, follow_backlinks FROM anchors "
        "WHERE {where} ORDER BY backlinks DESC, anchor LIMIT {limit}",
    ),
}
TOP_SQL = (
    "SELECT dst_domain AS domain, referring_domains, backlinks, follow_backlinks, "
    "nofollow_backlinks FROM domain_inbound "
    "ORDER BY referring_domains DESC, backlinks DESC, domain LIMIT {limit}"
)


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "sql",
        help="run a SQL query against the index",
        description="Run any ClickHouse SQL query; the default database is the index's.",
    )
    p.add_argument("query", metavar="QUERY")
    add_output(p, limit=False)
    p.set_defaults(func=run_sql)
    for name, (text, sql) in REPORTS.items():
        p = sub.add_parser(name, help=text, description=text[0].upper() + text[1:] + ".")
        p.add_argument(
            "domain", metavar="TARGET", help="a registered domain, a host name, or a page's URL"
        )
        add_output(p)
        if name != "anchors":
            add_backlink_filters(p)
        p.set_defaults(func=_report(sql))
    p = sub.add_parser(
        "top",
        help="domains with the most referring domains",
        description="Domains ranked by referring domains, then backlinks.",
    )
    add_output(p)
    p.set_defaults(func=run_top)


def add_output(p: argparse.ArgumentParser, *, limit: bool = True) -> None:
    add_storage(p)
    p.add_argument(
        "--format",
        default="PrettyCompact",
        metavar="FMT",
        help="any ClickHouse output format: PrettyCompact (default), TSV, CSV, "
        "JSONEachRow, Markdown, ...",
    )
    if limit:
        p.add_argument(
            "--limit",
            type=non_negative_int,
            default=50,
            metavar="N",
            help="at most N rows (default 50)",
        )


def emit(args: argparse.Namespace, sql: str, params: dict[str, str] | None = None) -> int:
    client = connect(storage_target(args))
    if params:
        sql = bind(sql, params)
    sys.stdout.buffer.write(run_query(client, sql, args.format))
    sys.stdout.flush()
    return 0


def run_sql(args: argparse.Namespace) -> int:
    return emit(args, args.query)


def _report(sql: str) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        where, params = target_filter(args.domain)
        if "FROM anchors" in sql and not where.startswith("dst_domain"):
            raise UsageError("anchors are reported per registered domain: give a domain")
        where = bind(where, params)  # before the filters, whose values are already quoted
        if "FROM anchors" not in sql:
            where = " AND ".join([where, *backlink_conditions(args)])
        return emit(args, sql.format(where=where, limit=args.limit))

    return run


def run_top(args: argparse.Namespace) -> int:
    return emit(args, TOP_SQL.format(limit=args.limit))
