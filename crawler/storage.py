"""ClickHouse clients, embedded (chDB) or server; the schema is applied by crawler/schema.py.

chDB is the ClickHouse engine inside this process; it allows one process per data directory. So
the process that runs a crawl owns the engine, and `linkgraph sql` on the same data directory must
wait until the crawl ends (or use a ClickHouse server, which any number of processes can share).

There is no cache of clients: `connect` opens a new one, and whoever called it owns it and closes
it (or drops it: the driver closes it then). chDB itself shares one engine among the clients of
one data directory, keeps the directory until the last of them is closed, and refuses a second
directory meanwhile.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

import clickhouse_connect
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ClickHouseError

from crawler.errors import UsageError
from crawler.schema import apply_schema, pending
from crawler.service.owner import refuse_if_owned

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
EMBEDDED_SCHEME = "chdb"


@dataclass(frozen=True, slots=True)
class StorageTarget:
    """Where the index lives: a ClickHouse server's http(s) URL, `chdb://PATH` (chDB files at
    PATH), or "" for chDB files under the data directory."""

    url: str
    data_dir: Path
    database: str = "linkgraph"
    # True for a command that only reads: no index there is one line, and nothing is created
    must_exist: bool = False

    @property
    def embedded(self) -> bool:
        return not self.url or urlsplit(self.url).scheme == EMBEDDED_SCHEME

    @property
    def uri(self) -> str:
        """The index's address, which also names its backend (crawler/sinks.py)."""
        return self.url or f"{EMBEDDED_SCHEME}://{(self.data_dir / 'clickhouse').resolve()}"

    def describe(self) -> str:
        return f"chdb://{self.data_dir / 'clickhouse'}" if not self.url else _redact(self.url)


def _redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@")
    return url


def connect(target: StorageTarget, *, migrate: bool = True) -> Client:
    """A new client whose default database is the index's, with the schema applied. The caller
    owns it: closing it (chDB) lets another process open the data directory."""
    if not _IDENTIFIER.match(target.database):
        raise UsageError(f"bad database name {target.database!r}: use letters, digits and _")
    if target.must_exist and target.embedded and not _embedded_path(target).is_dir():
        raise UsageError(
            f"no index in {target.data_dir}: nothing was crawled there (give the --data-dir "
            "of a crawl, or --clickhouse URL)"
        )
    if not target.url:  # chDB files in the data dir, which a running process may hold
        refuse_if_owned(target.data_dir)
    client = _open(target)
    try:
        if target.must_exist and not client.command(f"EXISTS DATABASE {target.database}"):
            raise UsageError(
                f"no index in database {target.database!r} at {target.describe()} (give the "
                "--database of a crawl)"
            )
        client.command(f"CREATE DATABASE IF NOT EXISTS {target.database}")
        client.database = target.database
        if migrate and target.embedded:
            apply_schema(client)
        elif migrate:  # a server's schema changes only through `linkgraph migrate`, once
            behind = pending(client)
            if behind:
                raise UsageError(
                    f"the index at {target.describe()} is behind this linkgraph's schema "
                    f"({len(behind)} files not applied, from {behind[0].name}): run "
                    "`linkgraph migrate` with this --clickhouse first"
                )
    except BaseException:
        client.close()
        raise
    return client


def _embedded_path(target: StorageTarget) -> Path:
    # absolute, or the DSN parser takes the first path segment for a host name
    parts = urlsplit(target.uri)
    return Path(parts.netloc + parts.path).resolve()


def _open(target: StorageTarget) -> Client:
    try:
        if target.embedded:
            path = _embedded_path(target)
            path.mkdir(parents=True, exist_ok=True)
            return clickhouse_connect.get_client(dsn=f"chdb://{path}")
        parts = urlsplit(target.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise UsageError(
                f"bad ClickHouse URL {_redact(target.url)!r}: use http(s)://user:pass@host:8123/db"
            )
        return clickhouse_connect.get_client(
            host=parts.hostname,
            port=parts.port or (8443 if parts.scheme == "https" else 8123),
            username=unquote(parts.username or "default"),
            password=unquote(parts.password or ""),
            secure=parts.scheme == "https",
            connect_timeout=10,
        )
    except UsageError:
        raise
    except Exception as exc:  # the driver raises several unrelated types for "cannot connect"
        text = str(exc)
        if "Another server instance in same directory" in text or "Cannot lock file" in text:
            raise UsageError(
                f"the index at {target.describe()} is in use by another linkgraph process "
                "(a running crawl owns it): wait for it to finish, or use a ClickHouse server "
                "with --clickhouse"
            ) from None
        if "Unable to open the chdb engine" in text:
            raise UsageError(
                f"cannot open the index at {target.describe()}: this process has another "
                "embedded index open (chDB serves one data directory per process)"
            ) from None
        cause = re.search(r"\[Errno \d+\] ([^'\")]+)", text)
        reason = cause.group(1) if cause else first_line(text)[:300]
        raise UsageError(
            f"cannot open ClickHouse at {target.describe()}: {reason} (start it, fix "
            "--clickhouse, or omit it to use the embedded chDB)"
        ) from None


def database_from_url(url: str, default: str) -> str:
    parts = urlsplit(url)
    if parts.scheme == EMBEDDED_SCHEME:
        return default  # the path names the files, not a database
    path = parts.path.strip("/")
    return path or default


def run_query(client: Client, sql: str, fmt: str, settings: dict[str, int] | None = None) -> bytes:
    """A query's result in any ClickHouse output format, with SQL errors as one line;
    `settings` are ClickHouse settings for this query only (e.g. readonly)."""
    try:
        return bytes(client.raw_query(sql, fmt=fmt, settings=settings))
    except ClickHouseError as exc:
        raise UsageError(f"query failed: {first_line(str(exc))}") from None


def first_line(text: str) -> str:
    text = text.strip().splitlines()[0] if text.strip() else text
    return re.sub(r"\s*\(version [^)]*\)", "", text)[:500]
