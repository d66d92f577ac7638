"""Options several commands share, and argument types that reject bad values with one line."""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
from pathlib import Path

from crawler import settings as defaults
from crawler.storage import StorageTarget, database_from_url

JOB_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is negative")
    return value


def positive_int(text: str) -> int:
    value = non_negative_int(text)
    if value == 0:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text} is not a finite number >= 0")
    return value


def job_name(text: str) -> str:
    if not JOB_NAME.match(text):
        raise argparse.ArgumentTypeError(
            f"{text!r}: a job name is 1-64 letters, digits, '.', '_' or '-'"
        )
    return text


def add_data_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=Path(os.environ.get("LINKGRAPH_DATA_DIR", defaults.LINKGRAPH_DATA_DIR)),
        help="where the embedded Redis and ClickHouse (chDB) keep their files "
        f"(default: $LINKGRAPH_DATA_DIR or ./{defaults.LINKGRAPH_DATA_DIR})",
    )


def add_storage(parser: argparse.ArgumentParser) -> None:
    add_data_dir(parser)
    parser.add_argument(
        "--clickhouse",
        metavar="URL",
        default=os.environ.get("LINKGRAPH_CLICKHOUSE_URL", ""),
        help="a ClickHouse server, http(s)://user:pass@host:8123/db (default: "
        "$LINKGRAPH_CLICKHOUSE_URL, else embedded chDB in the data dir)",
    )
    parser.add_argument(
        "--database",
        default=os.environ.get("LINKGRAPH_DATABASE", ""),
        help="database holding the index (default: the URL's path, else "
        f"{defaults.LINKGRAPH_DATABASE!r})",
    )


def add_redis(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--redis",
        metavar="URL",
        default=os.environ.get("LINKGRAPH_REDIS_URL", ""),
        help="the frontier's Redis, redis://host:6379/0 (default: $LINKGRAPH_REDIS_URL, else "
        "an embedded server started on 127.0.0.1 with its files in the data dir)",
    )


def storage_target(args: argparse.Namespace) -> StorageTarget:
    database = args.database or database_from_url(args.clickhouse, defaults.LINKGRAPH_DATABASE)
    return StorageTarget(args.clickhouse, args.data_dir, database)


def index_target(args: argparse.Namespace) -> StorageTarget:
    """The index a read command reads: one that is not there is one line (see `connect`), and
    reading creates nothing."""
    return dataclasses.replace(storage_target(args), must_exist=True)
