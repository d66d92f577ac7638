"""`linkgraph sql`: any ClickHouse query against the index. The readable reports are in
crawler/reports, and their subcommands in crawler/cli/reports.py.

A query runs with ClickHouse's readonly=1 unless --write is given: a report-like SELECT cannot
change the index by a slip (INSERT, DROP, ALTER, SET are refused, as are SETTINGS that would
lift the mode).
"""

from __future__ import annotations

import argparse
import sys

from crawler.cli.common import add_storage, storage_target
from crawler.cli.reports import add_format
from crawler.storage import connect, run_query

READ_ONLY = {"readonly": 1}


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "sql",
        help="run a SQL query against the index",
        description="Run any ClickHouse SQL query; the default database is the index's. "
        "Read-only unless --write is given.",
    )
    p.add_argument("query", metavar="QUERY")
    p.add_argument(
        "--write",
        action="store_true",
        help="allow queries that change the index (INSERT, ALTER, DROP...)",
    )
    add_storage(p)
    add_format(p)
    p.set_defaults(func=run_sql)


def run_sql(args: argparse.Namespace) -> int:
    client = connect(storage_target(args))
    try:
        output = run_query(client, args.query, args.format, None if args.write else READ_ONLY)
    finally:
        client.close()
    sys.stdout.buffer.write(output)
    sys.stdout.flush()
    return 0
