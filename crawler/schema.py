"""The index's schema: the numbered files in deploy/clickhouse/, each run once, in order.

Each file does one thing, as Plausible's ClickHouse migrations do: it creates one object (a table
with the materialized view that fills it counts as one, a table with its reference data too) or
changes one, and its first line says which. A released file is never edited: a change to an
object is a new file. `schema_migrations` records every file applied, by version and name.

deploy/clickhouse/schema.sql shows the current definition of every object in one place. It is
generated, never edited: `python -m crawler.schema dump > deploy/clickhouse/schema.sql`
(tests/test_schema.py fails when it is out of date).

ClickHouse has no transactional DDL: a file that fails halfway runs again from its start on the
next connect, so its statements must be able to run twice (IF NOT EXISTS; reference data emptied
before it is inserted).
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from clickhouse_connect.driver.client import Client

logger = logging.getLogger(__name__)

SCHEMA_DIR = Path(__file__).resolve().parents[1] / "deploy" / "clickhouse"
SCHEMA_DUMP = SCHEMA_DIR / "schema.sql"
MIGRATIONS_TABLE = "schema_migrations"
DUMP_COMMAND = "python -m crawler.schema dump > deploy/clickhouse/schema.sql"
_MIGRATION_NAME = re.compile(r"^(\d{3})_[a-z0-9_]+\.sql$")

# Until the schema was split into one file per object, it was these six files, and data
# directories created then record their names. When one of them is recorded, the files it
# covered are recorded as applied without running, the way a Django squashed migration
# `replaces` the ones it squashed. The six files are kept in tests/fixtures/old_schema/.
# 002_backlinks.sql also created a first `domain_inbound`, which 006_domain_inbound_direct.sql
# replaced; only 006 covers 005_domain_inbound.sql, so a directory that stopped at
# 005_history.sql runs it and gets the current view.
SQUASHED: dict[str, tuple[str, ...]] = {
    "001_pages_links.sql": ("001_pages.sql", "002_links.sql"),
    "002_backlinks.sql": ("003_backlinks_state.sql", "004_backlinks.sql", "006_anchors.sql"),
    "003_link_index.sql": (
        "007_domain_rank.sql",
        "008_tld_countries.sql",
        "009_page_status.sql",
        "010_referring_domains.sql",
        "011_refdomains_by_tld.sql",
        "012_refdomains_by_suffix.sql",
        "013_domain_profile.sql",
        "014_top_pages.sql",
        "015_outlinks.sql",
        "016_linked_domains.sql",
        "017_broken_backlinks.sql",
        "018_link_intersect.sql",
    ),
    "004_domain_graph.sql": ("019_domain_graph.sql",),
    "005_history.sql": (
        "020_page_fetches.sql",
        "021_live_links.sql",
        "022_new_links.sql",
        "023_lost_links.sql",
    ),
    "006_domain_inbound_direct.sql": ("005_domain_inbound.sql",),
}


@dataclass(frozen=True, slots=True)
class Migration:
    """One schema file: its number, name, first-line intent and statements."""

    version: int
    name: str
    intent: str
    statements: tuple[str, ...]


def migrations(schema_dir: Path = SCHEMA_DIR) -> list[Migration]:
    """Every numbered NNN_name.sql file, in order (schema.sql, generated, is not one)."""
    found = []
    for path in sorted(schema_dir.glob("*.sql")):
        if path.name == SCHEMA_DUMP.name:
            continue
        match = _MIGRATION_NAME.match(path.name)
        if not match:
            raise RuntimeError(f"schema file {path.name} is not named NNN_name.sql")
        text = path.read_text()
        first = text.split("\n", 1)[0]
        intent = first.removeprefix("--").strip() if first.startswith("--") else ""
        statements = tuple(split_statements(text))
        found.append(Migration(int(match.group(1)), path.name, intent, statements))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"two schema files in {schema_dir} share a version number")
    return found


def split_statements(sql: str) -> list[str]:
    """Statements of a schema file: separated by `;` at the end of a line, comments dropped."""
    lines = [ln for ln in sql.splitlines() if not ln.lstrip().startswith("--")]
    chunks = re.split(r";\s*$", "\n".join(lines), flags=re.MULTILINE)
    return [c.strip() for c in chunks if c.strip()]


def apply_schema(client: Client, schema_dir: Path = SCHEMA_DIR) -> list[str]:
    """Run each file not yet recorded, then record it; returns the names of the files run."""
    _create_migrations_table(client)
    recorded = {row[0] for row in client.query(f"SELECT name FROM {MIGRATIONS_TABLE}").result_rows}
    covered = {new for old, news in SQUASHED.items() if old in recorded for new in news}
    ran = []
    for migration in migrations(schema_dir):
        if migration.name in recorded:
            continue
        if migration.name in covered:
            logger.info("Schema %s recorded: an older file already applied it", migration.name)
        else:
            _run(client, migration)
            ran.append(migration.name)
        _record(client, migration)
    return ran


def pending(client: Client, schema_dir: Path = SCHEMA_DIR) -> list[Migration]:
    """The files not recorded as applied, without running any: a process started against a
    server checks this, and `linkgraph migrate` (crawler/cli/migrate.py) applies them."""
    exists = client.command(f"EXISTS TABLE {MIGRATIONS_TABLE}")
    recorded = (
        {row[0] for row in client.query(f"SELECT name FROM {MIGRATIONS_TABLE}").result_rows}
        if exists
        else set()
    )
    covered = {new for old, news in SQUASHED.items() if old in recorded for new in news}
    return [m for m in migrations(schema_dir) if m.name not in recorded | covered]


def _create_migrations_table(client: Client) -> None:
    client.command(
        f"CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE} (version UInt32, name String, "
        "applied_at DateTime DEFAULT now()) ENGINE = MergeTree ORDER BY version"
    )


def _run(client: Client, migration: Migration) -> None:
    for statement in migration.statements:
        client.command(statement)
    logger.info("Applied schema %s", migration.name)


def _record(client: Client, migration: Migration) -> None:
    # A statement, not client.insert, which first asks for the table's columns: a third of the
    # CPU, 0.3 s of every new index's start.
    client.command(
        f"INSERT INTO {MIGRATIONS_TABLE} (version, name) VALUES ({{v:UInt32}}, {{n:String}})",
        parameters={"v": migration.version, "n": migration.name},
    )


def dump(client: Client, schema_dir: Path = SCHEMA_DIR) -> str:
    """schema.sql: every file run on the client's empty database, then each object's
    `SHOW CREATE`, in the order the files create them, under the files that made it so."""
    _create_migrations_table(client)
    made_by = {
        MIGRATIONS_TABLE: ["crawler/schema.py: the schema files applied, by version and name"]
    }
    before = _definitions(client)
    for migration in migrations(schema_dir):
        _run(client, migration)
        _record(client, migration)
        after = _definitions(client)
        for name in after:
            if before.get(name) != after[name]:
                made_by.setdefault(name, []).append(f"{migration.name}: {migration.intent}")
        before = after
    parts = [
        "-- The current definition of every object in the index: SHOW CREATE after every file in\n"
        "-- deploy/clickhouse/ ran on an empty database, with the files that made it so.\n"
        f"-- Generated, do not edit: {DUMP_COMMAND}\n"
    ]
    tables = {
        name
        for (name,) in client.query(
            "SELECT name FROM system.tables WHERE database = currentDatabase() "
            "AND engine NOT LIKE '%View'"
        ).result_rows
    }
    for name, files in made_by.items():
        if name not in before:
            continue  # dropped by a later file
        header = "".join(f"-- {line}\n" for line in files)
        if name in tables and name != MIGRATIONS_TABLE:
            rows = client.query(f"SELECT count() FROM `{name}`").result_rows[0][0]
            header += f"-- {rows} rows of reference data\n" if rows else ""
        parts.append(f"{header}{before[name]};\n")
    return "\n".join(parts)


def _definitions(client: Client) -> dict[str, str]:
    names = client.query(
        "SELECT name FROM system.tables WHERE database = currentDatabase() ORDER BY name"
    ).result_rows
    return {
        name: client.query(f"SHOW CREATE TABLE `{name}`").result_rows[0][0] for (name,) in names
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m crawler.schema",
        description=f"Print the current schema from the migration files ({DUMP_COMMAND}).",
    )
    parser.add_argument("command", choices=["dump"])
    parser.parse_args(argv)
    # imported here: crawler.storage runs apply_schema from this module on every connect
    from crawler.storage import StorageTarget, connect

    with tempfile.TemporaryDirectory() as data_dir:
        client = connect(StorageTarget("", Path(data_dir)), migrate=False)
        try:
            sys.stdout.write(dump(client))
        finally:
            client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
