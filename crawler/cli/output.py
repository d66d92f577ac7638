"""Where the read commands' output goes, in which format, and through whom.

As clickhouse-client: with no --format, TabSeparated when stdout is a pipe or a file and
PrettyCompact on a terminal. `-o -` is stdout; `-o FILE` is written beside itself and renamed
into place once complete, so a failure leaves no half-written file. When a running crawl or
`linkgraph serve` owns the embedded index (crawler/service/owner.py), the queries are sent to it
and its answer is copied out byte for byte: the output is the one the idle index gives.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from datetime import timezone
from pathlib import Path
from typing import IO, Any

from clickhouse_connect.driver.binding import bind_query

from crawler.errors import UsageError
from crawler.service.owner import Owner, find_owner
from crawler.storage import StorageTarget

TERMINAL_FORMAT = "PrettyCompact"
PIPE_FORMAT = "TabSeparated"
STDOUT = "-"


def add_output(p: argparse.ArgumentParser, default: str = STDOUT) -> None:
    p.add_argument("-o", "--output", default=default, metavar="FILE",
                   help="write to FILE (default, or -: stdout)")  # fmt: skip


def output_format(given: str | None) -> str:
    """--format, else the format stdout suits."""
    if given:
        return given
    return TERMINAL_FORMAT if sys.stdout.isatty() else PIPE_FORMAT


def writable_file(text: str, flag: str = "-o") -> Path:
    """The absolute path of `-o FILE`, once a file could be created beside it: a bad path is
    one line before any query runs."""
    out = Path(text).resolve()
    if out.is_dir():
        raise UsageError(f"{flag} {text}: is a directory")
    if not out.parent.is_dir():
        raise UsageError(f"{flag} {text}: no directory {out.parent}")
    try:
        with tempfile.TemporaryFile(dir=out.parent):
            pass
    except OSError as exc:
        raise UsageError(f"{flag} {text}: cannot write there: {exc.strerror}") from None
    return out


@contextlib.contextmanager
def opened_output(text: str) -> Iterator[IO[bytes]]:
    """Binary output to `-o TEXT`: stdout for `-`, else the file, complete or not at all."""
    if text == STDOUT:
        yield sys.stdout.buffer
        sys.stdout.flush()
        return
    out = writable_file(text)
    partial = out.with_name(f".{out.name}.partial")
    try:
        with open(partial, "wb") as sink:
            yield sink
        os.replace(partial, out)
    except OSError as exc:
        raise UsageError(f"cannot write {out}: {exc.strerror}") from None
    finally:
        partial.unlink(missing_ok=True)


def owner_of(target: StorageTarget) -> Owner | None:
    """The live process that holds the embedded index of `target`, if any."""
    return find_owner(target.data_dir) if target.embedded else None


def wire_params(sql: str, parameters: dict[str, Any]) -> dict[str, str]:
    """The `param_NAME` texts the driver would send a ClickHouse server with `sql`."""
    return bind_query(sql, parameters, timezone.utc)[1]
