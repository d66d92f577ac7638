"""ClickHouse clients, embedded (chDB) or server, and the schema migrations.

chDB is the ClickHouse engine inside this process; it allows one process per data directory. So
the process that runs a crawl owns the engine, and `linkgraph sql` on the same data directory must
wait until the crawl ends (or use a ClickHouse server, which any number of processes can share).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

import clickhouse_connect
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ClickHouseError

from crawler.errors import UsageError

logger = logging.getLogger(__name__)
# The driver logs each failed request on its own; the CLI reports the failure as one line.
logging.getLogger("clickhouse_connect").setLevel(logging.CRITICAL)

SCHEMA_DIR = Path(__file__).resolve().parents[1] / "deploy" / "clickhouse"
MIGRATIONS_TABLE = "schema_migrations"
_MIGRATION_NAME = re.compile(r"^(\d{3})_[a-z0-9_]+\.sql$")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

# chDB runs one engine per process: every client of a data directory shares it.
_clients: dict[tuple[str, str], Client] = {}


@dataclass(frozen=True, slots=True)
class StorageTarget:
    """Where the index lives: a ClickHouse URL, or chDB files under the data directory."""

    url: str
    data_dir: Path
    database: str = "linkgraph"

    @property
    def embedded(self) -> bool:
        return not self.url

    def describe(self) -> str:
        return f"chdb://{self.data_dir / 'clickhouse'}" if self.embedded else _redact(self.url)


def _redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@")
    return url


def connect(target: StorageTarget, *, migrate: bool = True) -> Client:
    """A client whose default database is the index's, with the schema applied."""
    if not _IDENTIFIER.match(target.database):
        raise UsageError(f"bad database name {target.database!r}: use letters, digits and _")
    key = (target.url or str(target.data_dir.resolve()), target.database)
    client = _clients.get(key)
    if client is None:
        if target.embedded:
            close_embedded()  # chDB serves one data directory per process at a time
        client = _open(target)
        client.command(f"CREATE DATABASE IF NOT EXISTS {target.database}")
        client.database = target.database
        _clients[key] = client
    if migrate:
        apply_schema(client)
    return client


def close_embedded() -> None:
    """Close every chDB client of this process, releasing its data directory."""
    for key, client in list(_clients.items()):
        if client.__class__.__name__ == "ChdbClient":
            client.close()
            del _clients[key]


def _open(target: StorageTarget) -> Client:
    try:
        if target.embedded:
            # absolute, or the DSN parser takes the first path segment for a host name
            path = (target.data_dir / "clickhouse").resolve()
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
        cause = re.search(r"\[Errno \d+\] ([^'\")]+)", text)
        reason = cause.group(1) if cause else first_line(text)[:300]
        raise UsageError(
            f"cannot open ClickHouse at {target.describe()}: {reason} (start it, fix "
            "--clickhouse, or omit it to use the embedded chDB)"
        ) from None


def database_from_url(url: str, default: str) -> str:
    path = urlsplit(url).path.strip("/")
    return path or default


def migrations(schema_dir: Path = SCHEMA_DIR) -> list[tuple[int, str, list[str]]]:
    """(version, file name, statements) of every numbered .sql file, in order."""
    found = []
    for path in sorted(schema_dir.glob("*.sql")):
        match = _MIGRATION_NAME.match(path.name)
        if not match:
            raise RuntimeError(f"schema file {path.name} is not named NNN_name.sql")
        found.append((int(match.group(1)), path.name, split_statements(path.read_text())))
    return found


def split_statements(sql: str) -> list[str]:
    """Statements of a schema file: separated by `;` at the end of a line, comments dropped."""
    lines = [ln for ln in sql.splitlines() if not ln.lstrip().startswith("--")]
    chunks = re.split(r";\s*$", "\n".join(lines), flags=re.MULTILINE)
    return [c.strip() for c in chunks if c.strip()]


def apply_schema(client: Client, schema_dir: Path = SCHEMA_DIR) -> list[str]:
    """Run each numbered file not yet recorded, then record it; returns the files applied."""
    client.command(
        f"CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE} (version UInt32, name String, "
        "applied_at DateTime DEFAULT now()) ENGINE = MergeTree ORDER BY version"
    )
    done = {row[0] for row in client.query(f"SELECT version FROM {MIGRATIONS_TABLE}").result_rows}
    applied = []
    for version, name, statements in migrations(schema_dir):
        if version in done:
            continue
        for statement in statements:
            client.command(statement)
        client.insert(MIGRATIONS_TABLE, [[version, name]], column_names=["version", "name"])
        logger.info("Applied schema %s", name)
        applied.append(name)
    return applied


def run_query(client: Client, sql: str, fmt: str) -> bytes:
    """A query's result in any ClickHouse output format, with SQL errors as one line."""
    try:
        return bytes(client.raw_query(sql, fmt=fmt))
    except ClickHouseError as exc:
        raise UsageError(f"query failed: {first_line(str(exc))}") from None


def first_line(text: str) -> str:
    text = text.strip().splitlines()[0] if text.strip() else text
    return re.sub(r"\s*\(version [^)]*\)", "", text)[:500]
