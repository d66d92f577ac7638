"""`linkgraph export` (any view or table to a file, streamed) and `linkgraph disavow` (a
Google disavow file of referring domains chosen by a filter).

An export never holds the result in this process: the embedded engine writes the file itself
(`INSERT INTO FUNCTION file(...)`), and a server's answer is copied to the file in chunks.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ClickHouseError

from crawler import __version__
from crawler.cli.common import add_storage, storage_target
from crawler.cli.filters import where_expression
from crawler.errors import UsageError
from crawler.reports.values import parse_domain
from crawler.storage import connect, first_line

# Each format with a header row where the format has one: downstream tools expect names.
FORMATS = {"CSV": "CSVWithNames", "TSV": "TSVWithNames", "JSONEachRow": "JSONEachRow",
           "Parquet": "Parquet"}  # fmt: skip
CHUNK = 1 << 20
STREAMING_SETTINGS = "optimize_aggregation_in_order = 1"
# Google's limits for a disavow file; the byte limit read strictly as 2,000,000.
DISAVOW_MAX_LINES = 100_000
DISAVOW_MAX_BYTES = 2_000_000


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    text = "export a view or table to a file (CSV, TSV, JSONEachRow or Parquet), streamed"
    p = sub.add_parser("export", help=text, description=text[0].upper() + text[1:] + ".")
    p.add_argument("view", metavar="VIEW", help="a view or table of the index, e.g. backlinks")
    p.add_argument("--where", metavar="SQL", help="a SQL condition over the view's columns")
    p.add_argument(
        "--format",
        choices=sorted(FORMATS),
        default="CSV",
        help="CSV (with a header row, the default), TSV, JSONEachRow or Parquet",
    )
    p.add_argument("-o", "--output", required=True, metavar="FILE", help="the file to write")
    add_storage(p)
    p.set_defaults(func=run_export)
    text = "write a Google disavow file of the referring domains of DOMAIN that match --where"
    p = sub.add_parser("disavow", help=text, description=text[0].upper() + text[1:] + ".")
    p.add_argument("domain", metavar="DOMAIN", help="your registered domain")
    p.add_argument(
        "--where",
        required=True,
        metavar="SQL",
        help="a SQL condition over "
        'referring_domains columns, e.g. "authority < 5 AND follow_backlinks > 0"',
    )
    p.add_argument("-o", "--output", default="-", metavar="FILE", help="default: stdout")
    add_storage(p)
    p.set_defaults(func=run_disavow)


def writable_file(text: str) -> Path:
    """The absolute path of `-o FILE`, once a file could be created beside it: a bad path is
    one line before the query runs, and the engine never makes directories for it."""
    out = Path(text).resolve()
    if out.is_dir():
        raise UsageError(f"-o {text}: is a directory")
    if not out.parent.is_dir():
        raise UsageError(f"-o {text}: no directory {out.parent}")
    try:
        with tempfile.TemporaryFile(dir=out.parent):
            pass
    except OSError as exc:
        raise UsageError(f"-o {text}: cannot write there: {exc.strerror}") from None
    return out


def _check_object(client: Client, name: str) -> None:
    found = client.query(
        "SELECT count() FROM system.tables WHERE database = currentDatabase() "
        "AND name = {name:String}",
        parameters={"name": name},
    ).result_rows[0][0]
    if not found:
        raise UsageError(f"no view or table named {name!r} in the index (see docs/sql.md)")


def export_query(view: str, where: str | None) -> str:
    sql = f"SELECT * FROM `{view}`"
    if where:
        sql += f" WHERE {where_expression(where)}"
    # The views group backlinks_state by its sorting key: aggregating in that order streams
    # groups out as they complete instead of holding all of them (10M backlinks: 1.4 GB peak
    # instead of 4.5 GB, and twice as fast).
    return sql + f" SETTINGS {STREAMING_SETTINGS}"


def run_export(args: argparse.Namespace) -> int:
    out = writable_file(args.output)
    target = storage_target(args)
    client = connect(target)
    _check_object(client, args.view)
    sql = export_query(args.view, args.where)
    fmt = FORMATS[args.format]
    partial = out.with_name(f".{out.name}.partial")
    try:
        partial.unlink(missing_ok=True)
        if target.embedded:
            # the engine streams blocks into the file; nothing passes through Python
            client.command(
                f"INSERT INTO FUNCTION file({{path:String}}, '{fmt}') {sql}",
                parameters={"path": str(partial)},
            )
        else:
            with client.raw_stream(sql, fmt=fmt) as stream, open(partial, "wb") as sink:
                while chunk := stream.read(CHUNK):
                    sink.write(chunk)
        os.replace(partial, out)  # a failed export leaves no half-written file behind
    except ClickHouseError as exc:
        partial.unlink(missing_ok=True)
        raise UsageError(f"export failed: {first_line(str(exc))}") from None
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise UsageError(f"cannot write {out}: {exc.strerror}") from None
    print(f"exported {args.view} to {out} ({out.stat().st_size} bytes)", file=sys.stderr)
    return 0


def disavow_lines(domain: str, where: str, domains: list[str], when: datetime) -> list[str]:
    return [
        f"# Disavow file for {domain}: referring domains where {where}",
        f"# {len(domains)} domains; linkgraph {__version__}, "
        f"{when.strftime('%Y-%m-%d %H:%M:%S')} UTC",
        *(f"domain:{d}" for d in domains),
    ]


def run_disavow(args: argparse.Namespace) -> int:
    domain = parse_domain(args.domain)
    condition = where_expression(args.where)
    if args.output != "-":
        writable_file(args.output)
    client = connect(storage_target(args))
    sql = (
        "SELECT src_domain FROM referring_domains WHERE dst_domain = {domain:String} "
        f"AND {condition} ORDER BY src_domain"
    )
    try:
        domains = [row[0] for row in client.query(sql, parameters={"domain": domain}).result_rows]
    except ClickHouseError as exc:
        raise UsageError(f"query failed: {first_line(str(exc))}") from None
    comment = " ".join(args.where.split())
    text = "\n".join(disavow_lines(domain, comment, domains, datetime.now(timezone.utc))) + "\n"
    lines, size = text.count("\n"), len(text.encode("utf-8"))
    if lines > DISAVOW_MAX_LINES or size > DISAVOW_MAX_BYTES:
        raise UsageError(
            f"{len(domains)} domains make {lines} lines and {size} bytes; Google accepts at "
            f"most {DISAVOW_MAX_LINES} lines and {DISAVOW_MAX_BYTES} bytes: narrow --where"
        )
    if args.output == "-":
        sys.stdout.buffer.write(text.encode("utf-8"))
        sys.stdout.flush()
    else:
        try:
            Path(args.output).write_bytes(text.encode("utf-8"))
        except OSError as exc:
            raise UsageError(f"cannot write {args.output}: {exc.strerror}") from None
    print(f"{len(domains)} domains to disavow for {domain}", file=sys.stderr)
    return 0
