"""One SQL statement, checked by ClickHouse's own parser, then run with its result streamed.
`linkgraph sql` and GET /api/sql run exactly one statement, refuse an empty one with one line,
and let a FORMAT clause in the query choose the output format, as clickhouse-client does.

chDB runs every statement of a text separated by `;`, and a FORMAT clause plus the one the
driver appends is a syntax error: both are caught here, by `formatQuerySingleLine`, which parses
the text as the engine would (comments and string literals cannot fool it).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from clickhouse_connect.driver.exceptions import ClickHouseError

from crawler.errors import UsageError
from crawler.storage import first_line

if TYPE_CHECKING:
    from clickhouse_connect.driver.client import Client

CHUNK = 1 << 16
# For every reader of the index, the CLI or the process that owns it, so that they give the
# same bytes: aggregation in the order of the sorting key, which streams the views' groups out
# as they complete (crawler/cli/export.py); times in UTC as ISO 8601 with "Z"
# (2026-01-31T12:00:00.123Z), in every format; Pretty formats free of the ANSI codes the engine
# adds when *its* process writes to a terminal (the owner's terminal is not the reader's).
READ_SETTINGS = {
    "optimize_aggregation_in_order": "1",
    "date_time_output_format": "iso",
    "output_format_pretty_color": "0",
    "output_format_pretty_glue_chunks": "0",
    "output_format_pretty_highlight_digit_groups": "0",
    "output_format_pretty_highlight_trailing_spaces": "0",
}
EMPTY = 'the query is empty: give one SQL statement, e.g. "SELECT count() FROM pages"'
SEVERAL = (
    "the query holds several statements: run them one by one, one `linkgraph sql` (or one "
    "request) each"
)
# At the end of the normalized text: FORMAT name, then perhaps SETTINGS (the parser keeps both
# orders). A string literal ends with a quote, so it cannot end the text with a bare name.
_QUERY = re.compile(r"^\(*\s*(SELECT|WITH)\b", re.IGNORECASE)
_FORMAT_CLAUSE = re.compile(r"\sFORMAT\s+([A-Za-z][A-Za-z0-9_]*)(\s+SETTINGS\s.*)?$")


def read_session(client: Client, *, write: bool = False) -> None:
    """Settings for the rest of the client's session: READ_SETTINGS, then readonly=1 (unless
    `write`), which no query can lift. They are set once for the session rather than per
    query, for chDB holds the whole result of a query given settings of its own."""
    known = {
        row[0]
        for row in client.query(
            "SELECT name FROM system.settings WHERE name IN {names:Array(String)}",
            parameters={"names": list(READ_SETTINGS)},
        ).result_rows
    }  # an older ClickHouse server lacks some: they are left out
    for name, value in READ_SETTINGS.items():
        if name in known:
            client.set_client_setting(name, value)
    if not write:
        client.set_client_setting("readonly", "1")


@dataclass(frozen=True)
class Statement:
    format: str | None  # the output format its FORMAT clause names
    streams: bool  # a query (SELECT, WITH...): chDB streams no other statement


def check_statement(client: Client, sql: str) -> Statement:
    """What running `sql` takes; a UsageError for an empty query or several statements.
    Other parse errors are left to running the query, which says them in its own words."""
    if not sql.strip() or not sql.strip().strip(";").strip():
        raise UsageError(EMPTY)
    try:
        normalized = client.raw_query(
            "SELECT formatQuerySingleLine({sql:String})", parameters={"sql": sql}, fmt="TSVRaw"
        ).decode("utf-8", "replace")
    except ClickHouseError as exc:
        text = str(exc)
        if "Multi-statements are not allowed" in text:
            raise UsageError(SEVERAL) from None
        if "Empty query" in text:
            raise UsageError(EMPTY) from None
        return Statement(None, streams=False)
    found = _FORMAT_CLAUSE.search(normalized.rstrip("\n"))
    return Statement(found.group(1) if found else None, bool(_QUERY.match(normalized)))


def stream_statement(
    client: Client, sql: str, params: Mapping[str, Any] | None, fmt: str
) -> Iterator[bytes]:
    """The result of one statement in `fmt` (or the format its FORMAT clause names), in chunks
    as the engine sends them: nothing holds the whole result of a query. `params` are the
    server-side parameters (`{name:Type}`) the query refers to; others are left out. Nothing
    runs before the first `next`, where errors surface."""
    statement = check_statement(client, sql)
    bound = {k: v for k, v in (params or {}).items() if "{" + k + ":" in sql} or None
    fmt_asked = None if statement.format else fmt
    try:
        if not statement.streams:
            if output := client.raw_query(sql, parameters=bound, fmt=fmt_asked):
                yield bytes(output)
            return
        with client.raw_stream(sql, parameters=bound, fmt=fmt_asked) as stream:
            while chunk := stream.read(CHUNK):
                yield bytes(chunk)
    except ClickHouseError as exc:
        raise UsageError(f"query failed: {first_line(str(exc))}") from None
