"""One subcommand per registered report (crawler/reports), its arguments derived from the
report's parameters: positional ones in order, options named `--name-with-dashes`."""

from __future__ import annotations

import argparse
import sys
from functools import partial
from typing import Any

from crawler.cli.common import add_storage, storage_target
from crawler.reports import REPORTS, Report, check_params, run_report
from crawler.reports.values import FLAG
from crawler.storage import connect

DEFAULT_FORMAT = "PrettyCompact"


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
        default=DEFAULT_FORMAT,
        metavar="FMT",
        help=f"any ClickHouse output format: {DEFAULT_FORMAT} (default), TSV, CSV, "
        "JSONEachRow, Markdown, ...",
    )


def run(report: Report, args: argparse.Namespace) -> int:
    params = {p.name: getattr(args, p.name) for p in report.all_params}
    values = check_params(report.name, params)  # before connecting: bad input writes nothing
    client = connect(storage_target(args))
    try:
        output = run_report(client, report.name, values, args.format)
    finally:
        client.close()
    assert isinstance(output, bytes)
    sys.stdout.buffer.write(output)
    sys.stdout.flush()
    return 0
