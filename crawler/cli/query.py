"""`linkgraph sql`: one ClickHouse query against the index. The readable reports are in
crawler/reports, and their subcommands in crawler/cli/reports.py.

A query runs with ClickHouse's readonly=1 unless --write is given: a report-like SELECT cannot
change the index by a slip (INSERT, DROP, ALTER, SET are refused, as are SETTINGS that would
lift the mode). Its result is streamed to the output as the engine sends it. When a running
crawl or `linkgraph serve` owns the index, the query is answered by that process.
"""

from __future__ import annotations

import argparse

from crawler.cli.common import add_storage, index_target, storage_target
from crawler.cli.output import add_output, opened_output, output_format, owner_of
from crawler.cli.reports import add_format
from crawler.errors import UsageError
from crawler.service.owner import OwnerClient
from crawler.statement import EMPTY, read_session, stream_statement
from crawler.storage import connect


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "sql",
        help="run a SQL query against the index",
        description="Run one ClickHouse SQL statement; the default database is the index's. "
        "Read-only unless --write is given. A FORMAT clause in the query chooses the output "
        "format.",
    )
    p.add_argument("query", metavar="QUERY")
    p.add_argument(
        "--write",
        action="store_true",
        help="allow queries that change the index (INSERT, ALTER, DROP...)",
    )
    add_storage(p)
    add_format(p)
    add_output(p)
    p.set_defaults(func=run_sql)


def run_sql(args: argparse.Namespace) -> int:
    if not args.query.strip().strip(";").strip():
        raise UsageError(EMPTY)
    target = (storage_target if args.write else index_target)(args)  # reads create nothing
    fmt = output_format(args.format)
    owner = owner_of(target)
    if owner is not None:
        if args.write:
            raise UsageError(
                f"the index is held by {owner.describe()}, which answers reads only: run "
                "--write queries once it has ended"
            )
        with opened_output(args.output) as out:
            OwnerClient(owner).sql(args.query, fmt, None, out)
        return 0
    client = connect(target)
    try:
        read_session(client, write=args.write)
        chunks = stream_statement(client, args.query, None, fmt)
        first = next(chunks, b"")  # a failed query writes nothing, not even an empty -o file
        with opened_output(args.output) as out:
            out.write(first)
            for chunk in chunks:
                out.write(chunk)
    finally:
        client.close()
    return 0
