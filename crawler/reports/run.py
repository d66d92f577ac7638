"""Running a report by name with plain parameters: what the command line does after parsing its
arguments, and what an HTTP endpoint does with a query string."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from clickhouse_connect.driver.exceptions import ClickHouseError

from crawler.errors import UsageError
from crawler.reports.catalog import REPORTS
from crawler.reports.model import Report, Values
from crawler.storage import first_line

if TYPE_CHECKING:
    from clickhouse_connect.driver.client import Client


def report_named(name: str) -> Report:
    try:
        return REPORTS[name]
    except KeyError:
        known = ", ".join(REPORTS)
        raise UsageError(f"no report named {name!r}: the reports are {known}") from None


def check_params(name: str, params: Mapping[str, Any]) -> Values:
    """The parameters of report `name`, checked (text is parsed, typed values pass), defaults
    filled in. Check before connecting, so bad input writes nothing."""
    return report_named(name).values(params)


def run_report(
    client: Client, name: str, params: Mapping[str, Any], fmt: str | None = None
) -> list[dict[str, Any]] | bytes:
    """Rows of report `name` as dicts (`fmt` None), or its output in `fmt`: any ClickHouse
    output format for a row report, `text` or `json` for a document report (profile), whose
    rows are the one document."""
    report = report_named(name)
    values = report.values(params)
    if report.document is not None:
        if fmt is not None and fmt not in report.formats:
            raise UsageError(f"{name} is printed as {' or '.join(report.formats)}, not {fmt!r}")
        document = report.document(client, report, values)
        if fmt is None or report.render is None:
            return [document]
        return report.render(document, fmt).encode()
    sql, parameters = report.statement(values)
    try:
        if fmt is None:
            result = client.query(sql, parameters=parameters)
            return [dict(zip(result.column_names, row, strict=True)) for row in result.result_rows]
        return bytes(client.raw_query(sql, parameters=parameters, fmt=fmt))
    except ClickHouseError as exc:
        raise UsageError(f"query failed: {first_line(str(exc))}") from None
