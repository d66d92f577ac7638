"""One subcommand per registered report (crawler/reports), its arguments derived from the
report's parameters: positional ones in order, options named `--name-with-dashes`."""

from __future__ import annotations

import argparse
import io
import sys
from collections.abc import Callable, Iterator
from functools import partial
from typing import TYPE_CHECKING, Any

from crawler.cli.common import add_storage, index_target
from crawler.cli.output import (
    PIPE_FORMAT,
    TERMINAL_FORMAT,
    add_output,
    opened_output,
    output_format,
    owner_of,
    wire_params,
)
from crawler.reports import REPORTS, Report, check_params, run_report
from crawler.reports.model import Values
from crawler.reports.unknown import known_query, unknown_hint
from crawler.reports.values import FLAG
from crawler.service.owner import OwnerClient
from crawler.statement import read_session, stream_statement
from crawler.storage import connect

if TYPE_CHECKING:
    from clickhouse_connect.driver.client import Client


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    for report in REPORTS.values():
        add_parser(sub, report)


def add_parser(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], report: Report
) -> argparse.ArgumentParser:
    text = report.help
    p = sub.add_parser(report.name, help=text, description=text[0].upper() + text[1:] + ".")
    groups: dict[str, Any] = {}
    for param in report.all_params:
        where: Any = p
        if param.group:
            if param.group not in groups:
                groups[param.group] = p.add_argument_group(param.group)
            where = groups[param.group]
        if param.exclusive:
            key = f"{param.group}/{param.exclusive}"
            if key not in groups:
                groups[key] = where.add_mutually_exclusive_group()
            where = groups[key]
        if param.positional:
            where.add_argument(param.name, metavar=param.meta, help=param.help,
                               nargs="+" if param.many else None)  # fmt: skip
        elif param.kind is FLAG:
            where.add_argument(param.flag, dest=param.name, action="store_true", help=param.help)
        else:
            where.add_argument(param.flag, dest=param.name, metavar=param.meta,
                               required=param.required, help=param.help)  # fmt: skip
    add_storage(p)
    add_output(p)
    if report.formats:
        formats, default = report.formats, report.formats[0]
        p.add_argument("--format", choices=formats, default=default,
                       help=f"{' or '.join(formats)} (default {default})")  # fmt: skip
    else:
        add_format(p)
    p.set_defaults(func=partial(run, report))
    return p


def add_format(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--format",
        metavar="FMT",
        help=f"any ClickHouse output format: TSV, CSV, JSONEachRow, Markdown, ... (default: "
        f"{TERMINAL_FORMAT} on a terminal, else {PIPE_FORMAT})",
    )


def run(report: Report, args: argparse.Namespace) -> int:
    params = {p.name: getattr(args, p.name) for p in report.all_params}
    values = check_params(report.name, params)  # before connecting: bad input writes nothing
    fmt = output_format(args.format)
    target = index_target(args)
    owner = owner_of(target)
    if owner is not None:
        with opened_output(args.output) as out:
            if report.document is not None:
                OwnerClient(owner).report(report.name, text_params(params), fmt, out)
            else:
                sql, parameters = report.statement(values)
                OwnerClient(owner).sql(sql, fmt, wire_params(sql, parameters), out)
        hint_if_unknown(values, partial(owner_count, OwnerClient(owner)))
        return 0
    client = connect(target)
    try:
        if report.document is not None:
            output = run_report(client, report.name, values, fmt)
            assert isinstance(output, bytes)
            chunks: Iterator[bytes] = iter((output,))
        else:
            read_session(client)
            sql, parameters = report.statement(values)
            chunks = stream_statement(client, sql, parameters, fmt)
        first = next(chunks, b"")  # a failed query writes nothing, not even an empty -o file
        with opened_output(args.output) as out:
            out.write(first)
            for chunk in chunks:
                out.write(chunk)
        hint_if_unknown(values, partial(local_count, client))
    finally:
        client.close()
    return 0


def hint_if_unknown(values: Values, count: Callable[[str, dict[str, Any]], int]) -> None:
    """One line on stderr when the report's target is nowhere in the index (crawler/reports/
    unknown.py): its empty output is then no answer about it."""
    known = known_query(values)
    if known is not None and not count(known[0], known[1]):
        print(unknown_hint(known[2]), file=sys.stderr)


def local_count(client: Client, sql: str, params: dict[str, Any]) -> int:
    return int(client.query(sql, parameters=params).result_rows[0][0])


def owner_count(owner: OwnerClient, sql: str, params: dict[str, Any]) -> int:
    out = io.BytesIO()
    owner.sql(sql, "TSV", wire_params(sql, params), out)
    return int(out.getvalue() or 0)


def text_params(params: dict[str, Any]) -> dict[str, Any]:
    """Parameters as text for a query string: flags given as 1, those not given left out."""
    return {k: ("1" if v is True else v) for k, v in params.items() if v not in (None, False, [])}
