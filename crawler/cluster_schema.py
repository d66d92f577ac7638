"""The index's schema on a ClickHouse cluster, applied by `linkgraph migrate --cluster NAME`,
never by the processes that write or read.

The cluster form of each file of deploy/clickhouse/ has the same number and name, so a server
records the same versions whichever schema it runs, and a process checks them the same way
(crawler/schema.py, `pending`). It is, in this order:
- the file of the same name in deploy/clickhouse/cluster/, an override, where the cluster needs
  something else: a table becomes `NAME_local` (Replicated*MergeTree, one replication group per
  `{shard}`) under a Distributed table with today's name, so every query and report reads the
  same names; reference data (tld_countries, domain_rank) is one replication group across all
  shards, a copy on every node; the materialized view reads and writes the local tables; a view
  that would JOIN or IN two Distributed tables says GLOBAL, or reads the shard's local table;
- else the single-node file made to run on every node by `cluster_form`.

An override may take a statement of the single-node file as `cluster_form` makes it, rather than
copy it: a line `-- @single-node START` stands for the one statement there that begins with START
(008_tld_countries.sql takes its 250 rows of reference data so).

The schema writes the cluster as `'{cluster}'`, which ClickHouse expands from the server's macros
when a file is run by hand; `linkgraph migrate --cluster NAME` puts NAME there instead. `{shard}`
and `{replica}` stay macros: they differ per node. The Distributed tables keep NAME, so the schema
is the one record of which cluster an index runs on (`index_cluster`): a command that acts
differently on a cluster (`linkgraph rank`) reads it there rather than take a flag.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from clickhouse_connect.driver.client import Client

from crawler.schema import MIGRATIONS_TABLE, SCHEMA_DIR, Migration, migrations, split_statements

logger = logging.getLogger(__name__)

CLUSTER_SCHEMA_DIR = SCHEMA_DIR / "cluster"
CLUSTER_MACRO = "'{cluster}'"
ON_CLUSTER = f" ON CLUSTER {CLUSTER_MACRO}"
# An insert in a schema file follows the TRUNCATE that empties its table, so that the file can
# run twice; Keeper still remembers the block from the first run and would drop it.
NO_DEDUPLICATION = " SETTINGS insert_deduplicate = 0"
SINGLE_NODE_STATEMENT = "-- @single-node "

# What `cluster_form` derives: the statement up to the object's name, where ON CLUSTER goes...
_ON_EVERY_NODE = re.compile(
    r"(?:CREATE (?:OR REPLACE )?VIEW(?: IF NOT EXISTS)?|ALTER TABLE|DROP (?:TABLE|VIEW)"
    r"(?: IF EXISTS)?) (\w+)"
)
# ... and an insert up to its data, where its settings go.
_INSERT = re.compile(r"INSERT INTO (\w+)(?:\s*\([^)]*\))?(?=\s+(?:VALUES|SELECT)\b)")
_LOCAL_TABLE = re.compile(r"^CREATE TABLE (?:IF NOT EXISTS )?(\w+)_local\b", re.MULTILINE)
# The cluster a Distributed table reads, as system.tables shows its engine: a literal, or an
# identifier when the table was made by hand.
_DISTRIBUTED_OVER = re.compile(r"Distributed\(\s*(?:'((?:[^'\\]|\\.)*)'|`?([\w.-]+)`?)")
# What it refuses, and why: these need an override.
_NEEDS_OVERRIDE = {
    "CREATE TABLE": "a table on a cluster is Replicated, or Distributed over one",
    "CREATE MATERIALIZED VIEW": "a materialized view on a cluster runs on its local tables",
}


def cluster_form(sql: str, sharded: frozenset[str] = frozenset()) -> str:
    """A single-node schema file that runs on the whole cluster: ON CLUSTER '{cluster}' after the
    object's name in each CREATE VIEW, ALTER TABLE and DROP, and inserts not deduplicated
    (`NO_DEDUPLICATION`); comments and layout kept. Raises ValueError for a statement whose
    cluster form differs in substance (a table, a materialized view, a change to a `sharded`
    table, whose rows are in its `_local` tables, or any other statement): that file needs an
    override."""
    lines = sql.split("\n")
    for first, last in reversed(_statement_lines(lines)):
        statement = "\n".join(lines[first : last + 1])
        lines[first : last + 1] = _cluster_statement(statement, sharded).split("\n")
    return "\n".join(lines)


def _statement_lines(lines: list[str]) -> list[tuple[int, int]]:
    """The first and last line of each statement, ended as split_statements ends them."""
    spans, start = [], None
    for number, line in enumerate(lines):
        text = line.strip()
        if not text or text.startswith("--"):
            continue
        start = number if start is None else start
        if text.endswith(";"):
            spans.append((start, number))
            start = None
    if start is not None:
        spans.append((start, len(lines) - 1))
    return spans


def _cluster_statement(statement: str, sharded: frozenset[str]) -> str:
    for start, why in _NEEDS_OVERRIDE.items():
        if statement.startswith(start):
            raise ValueError(f"{why}: {statement.splitlines()[0]!r}")
    for pattern, added in ((_ON_EVERY_NODE, ON_CLUSTER), (_INSERT, NO_DEDUPLICATION)):
        found = pattern.match(statement)
        if not found:
            continue
        if found.group(1) in sharded and not statement.startswith("DROP VIEW"):
            raise ValueError(
                f"{found.group(1)} is sharded, its rows in {found.group(1)}_local: "
                f"{statement.splitlines()[0]!r}"
            )
        return statement[: found.end()] + added + statement[found.end() :]
    raise ValueError(f"no cluster form for {statement.splitlines()[0]!r}")


def cluster_migrations(
    cluster: str, schema_dir: Path = SCHEMA_DIR, overrides_dir: Path = CLUSTER_SCHEMA_DIR
) -> list[Migration]:
    """The cluster form of every schema file, in order, with `cluster` put in place of the
    macro; the version, name and intent of the single-node file."""
    single_node = migrations(schema_dir)
    overrides = {path.name: path for path in overrides_dir.glob("*.sql")}
    strays = sorted(set(overrides) - {m.name for m in single_node})
    if strays:
        raise RuntimeError(f"{overrides_dir} has no file of {schema_dir} named {strays[0]}")
    named = quoted(cluster)
    sharded: frozenset[str] = frozenset()
    found = []
    for migration in single_node:
        single_sql = (schema_dir / migration.name).read_text()
        try:
            if migration.name in overrides:
                sql = _resolved(overrides[migration.name].read_text(), single_sql, sharded)
            else:
                sql = cluster_form(single_sql, sharded)
        except ValueError as exc:
            raise RuntimeError(f"cluster form of {migration.name}: {exc}") from None
        sharded |= frozenset(_LOCAL_TABLE.findall(sql))
        statements = tuple(s.replace(CLUSTER_MACRO, named) for s in split_statements(sql))
        found.append(Migration(migration.version, migration.name, migration.intent, statements))
    return found


def _resolved(override: str, single_sql: str, sharded: frozenset[str]) -> str:
    """The override with each `-- @single-node START` line replaced by the statement of the
    single-node file that begins with START, in its cluster form."""
    lines = override.split("\n")
    for number, line in enumerate(lines):
        if not line.startswith(SINGLE_NODE_STATEMENT):
            continue
        start = line.removeprefix(SINGLE_NODE_STATEMENT).strip()
        matching = [s for s in split_statements(single_sql) if s.startswith(start)]
        if len(matching) != 1:
            raise ValueError(f"{len(matching)} statements begin with {start!r}, not one")
        lines[number] = _cluster_statement(matching[0], sharded) + ";"
    return "\n".join(lines)


def quoted(name: str) -> str:
    return "'" + name.replace("\\", "\\\\").replace("'", "\\'") + "'"


def migrations_table(cluster: str) -> str:
    """schema_migrations on every node, one replication group across the cluster: any node
    answers what the cluster's schema is."""
    return (
        f"CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE} ON CLUSTER {quoted(cluster)} "
        "(version UInt32, name String, applied_at DateTime DEFAULT now()) "
        f"ENGINE = ReplicatedMergeTree('/clickhouse/tables/all/{{database}}/{MIGRATIONS_TABLE}', "
        "'{shard}-{replica}') ORDER BY version"
    )


def apply_cluster_schema(client: Client, cluster: str) -> list[str]:
    """Run the cluster form of each file not yet recorded, then record it; returns the names of
    the files run. The client's database must exist on every node (`create_database`)."""
    client.command(migrations_table(cluster))
    recorded = {row[0] for row in client.query(f"SELECT name FROM {MIGRATIONS_TABLE}").result_rows}
    ran = []
    for migration in cluster_migrations(cluster):
        if migration.name in recorded:
            continue
        for statement in migration.statements:
            client.command(statement)
        client.insert(
            MIGRATIONS_TABLE,
            [[migration.version, migration.name]],
            column_names=["version", "name"],
        )
        logger.info("Applied cluster schema %s", migration.name)
        ran.append(migration.name)
    return ran


def index_cluster(client: Client) -> str:
    """The cluster the index in the client's database runs on: the one its Distributed
    `backlinks_state` reads (`linkgraph migrate --cluster NAME` made it so), or "" when the
    index is the single-node schema."""
    rows = client.query(
        "SELECT engine, engine_full FROM system.tables "
        "WHERE database = currentDatabase() AND name = 'backlinks_state'"
    ).result_rows
    if not rows or rows[0][0] != "Distributed":
        return ""
    found = _DISTRIBUTED_OVER.match(rows[0][1])
    if not found:
        raise RuntimeError(f"no cluster in the engine of backlinks_state: {rows[0][1]!r}")
    literal, identifier = found.groups()
    return identifier if literal is None else re.sub(r"\\(.)", r"\1", literal)


def create_database(client: Client, database: str, cluster: str) -> None:
    client.command(f"CREATE DATABASE IF NOT EXISTS {database} ON CLUSTER {quoted(cluster)}")
