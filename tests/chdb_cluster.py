"""The cluster schema in chDB configured as a 2-shard cluster: run as a process of its own by
tests/test_cluster_schema.py (`python -m tests.chdb_cluster CONFIG DATA_DIR`), which reads the
JSON it prints.

A process of its own because chDB serves one data directory per process, and this one is opened
with a config file (remote_servers, macros, an in-memory Keeper). What chDB cannot do, and how
this module stands in for it:
- chDB runs no distributed DDL, so the clients below remove `ON CLUSTER 'linkgraph'` from each
  statement before running it on this one node (every statement is also parsed whole, ON
  CLUSTER included, with EXPLAIN AST);
- chDB creates Replicated tables on its in-memory Keeper, but they stay read-only (no replica
  is ever activated in chDB), which refuses ALTERs and inserts. So the Replicated tables are
  created as written in `linkgraph` (engines, Keeper paths), and the whole schema is applied by
  `apply_cluster_schema` in `writable` with each Replicated engine turned into its MergeTree and
  replicated_deduplication_window into non_replicated_deduplication_window: every other object
  as written (Distributed tables, views, the materialized view) is made, planned and written
  there;
- chDB listens on no port, so the shards of the Distributed tables are never reached: queries
  over them are planned (EXPLAIN PLAN, skipping unavailable shards), never run.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable
from typing import Any, NoReturn

from clickhouse_connect.driver._chdbclient import ChdbClient

from crawler.cluster_schema import apply_cluster_schema, cluster_migrations, migrations_table
from crawler.columnar import LINK_SCHEMA, PAGE_SCHEMA, arrow_stream
from crawler.rows import LINK_COLUMNS, PAGE_COLUMNS, LinkRow, PageRow
from crawler.schema import SCHEMA_DIR, apply_schema, migrations
from crawler.sinks import insert_settings

CLUSTER = "linkgraph"
ON_CLUSTER = f" ON CLUSTER '{CLUSTER}'"
DATABASE = "linkgraph"  # the cluster schema as written
WRITABLE = "writable"  # the cluster schema without replication
SINGLE = "single"  # the single-node schema, to compare with
# A query for each view; link_intersect is parameterized.
VIEW_QUERY = {
    "link_intersect": "SELECT * FROM link_intersect(target = 'a.com', "
    "competitors = ['b.com', 'c.com'], min_count = 1)"
}


class OneNodeClient(ChdbClient):
    """Runs DDL without ON CLUSTER: chDB has no distributed DDL queue to run it through."""

    replicated = True

    def command(self, cmd: str, *args: Any, **kwargs: Any) -> Any:
        cmd = cmd.replace(ON_CLUSTER, "")
        if not self.replicated:
            cmd = REPLICATED_ENGINE.sub(r"\1MergeTree", cmd)
            cmd = REPLICATED_WINDOW.sub("non_replicated_deduplication_window", cmd)
        return super().command(cmd, *args, **kwargs)


REPLICATED_WINDOW = re.compile(r"(?<!non_)replicated_deduplication_window")
REPLICATED_ENGINE = re.compile(r"Replicated(\w*)MergeTree\('[^']*', '[^']*'\)")


def create_replicated(client: Any) -> None:
    """The cluster schema's database, and its Replicated tables as written (on Keeper)."""
    client.command(f"CREATE DATABASE {DATABASE}")
    client.database = DATABASE
    for migration in cluster_migrations(CLUSTER):
        for statement in migration.statements:
            if REPLICATED_ENGINE.search(statement):
                client.command(statement)


def error_code(exc: Exception) -> int:
    found = re.search(r"Code: (\d+)", str(exc))
    return int(found.group(1)) if found else -1


def probe(client: OneNodeClient) -> dict[str, Any]:
    out: dict[str, Any] = {}
    out["clusters"] = client.query(
        "SELECT shard_num, host_name FROM system.clusters WHERE cluster = {c:String} "
        "ORDER BY shard_num",
        parameters={"c": CLUSTER},
    ).result_rows
    out["macros"] = {
        m: s for m, s in client.query("SELECT macro, substitution FROM system.macros").result_rows
    }

    parsed, unparsed = 0, []
    for migration in cluster_migrations(CLUSTER):
        for statement in migration.statements:
            if statement.startswith("INSERT"):
                continue  # its data is no query; it runs below
            try:
                client.query("EXPLAIN AST " + statement)
                parsed += 1
            except Exception as exc:
                unparsed.append([migration.name, str(exc).splitlines()[0][:300]])
    out["parsed"], out["unparsed"] = parsed, unparsed

    create_replicated(client)
    client.command(migrations_table(CLUSTER))
    out["replicas"] = {
        table: path
        for table, path in client.query(
            "SELECT table, zookeeper_path FROM system.replicas WHERE database = {d:String}",
            parameters={"d": DATABASE},
        ).result_rows
    }

    client.replicated = False
    client.command(f"CREATE DATABASE {WRITABLE}")
    client.database = WRITABLE
    out["ran"] = apply_cluster_schema(client, CLUSTER)
    out["ran_again"] = apply_cluster_schema(client, CLUSTER)
    out["recorded"] = [
        row[0]
        for row in client.query("SELECT name FROM schema_migrations ORDER BY version").result_rows
    ]
    out["tables"] = {
        name: [engine, full]
        for name, engine, full in client.query(
            "SELECT name, engine, if(engine = 'MaterializedView', create_table_query, engine_full) "
            "FROM system.tables WHERE database = {d:String}",
            parameters={"d": WRITABLE},
        ).result_rows
    }
    out["plans"] = plans(client)
    out["plain_join"] = single_node_history_views(client)
    out["dedup"] = retried_inserts(client)
    out["reference"] = reference_data_again(client)

    client.command(f"CREATE DATABASE {SINGLE}")
    client.database = SINGLE
    apply_schema(client)
    client.database = WRITABLE
    out["columns"] = {
        db: {
            f"{table}.{name}": kind
            for table, name, kind in client.query(
                "SELECT table, name, type FROM system.columns WHERE database = {d:String}",
                parameters={"d": db},
            ).result_rows
        }
        for db in (WRITABLE, SINGLE)
    }
    out["single_tld_countries"] = client.query(
        f"SELECT count() FROM {SINGLE}.tld_countries"
    ).result_rows[0][0]
    return out


def plans(client: OneNodeClient) -> dict[str, str]:
    """The plan of a query on each view, or the first line of its error."""
    views = client.query(
        "SELECT name FROM system.tables WHERE database = {d:String} AND engine = 'View'",
        parameters={"d": WRITABLE},
    ).result_rows
    result = {}
    for (view,) in views:
        sql = VIEW_QUERY.get(view, f"SELECT * FROM {view}")
        try:
            rows = client.query(
                f"EXPLAIN PLAN {sql}", settings={"skip_unavailable_shards": 1}
            ).result_rows
            result[view] = "\n".join(row[0] for row in rows)
        except Exception as exc:
            result[view] = f"error {error_code(exc)}: " + str(exc).splitlines()[0][:300]
    return result


def single_node_history_views(client: OneNodeClient) -> dict[str, int]:
    """The single-node views that the cluster schema changes, over the Distributed tables: the
    error code of planning a query on each (0: none)."""
    codes = {}
    for name in ("018_link_intersect.sql", "020_page_fetches.sql", "021_live_links.sql"):
        (migration,) = [m for m in migrations(SCHEMA_DIR) if m.name == name]
        view = name[4:-4]
        statement = migration.statements[0].replace(
            f"VIEW IF NOT EXISTS {view} ", f"VIEW {view}_1 "
        )
        client.command(statement)
        sql = VIEW_QUERY.get(view, f"SELECT * FROM {view}").replace(view, f"{view}_1", 1)
        try:
            client.query(f"EXPLAIN PLAN {sql}", settings={"skip_unavailable_shards": 1})
            codes[view] = 0
        except Exception as exc:
            codes[view] = error_code(exc)
        client.command(f"DROP VIEW {view}_1")
    return codes


def retried_inserts(client: OneNodeClient) -> dict[str, Any]:
    """A batch inserted into this shard's Replicated tables, again with the same token, then
    with a new one, as crawler/sinks.py inserts it; and through the Distributed table."""
    when = 1_700_000_000_000
    page = PageRow("j", "http://a.com/", "a.com", "a.com", 200, "text/html", 10, 0, when,
                   "A", "", 0, 0, "", "", 2)  # fmt: skip
    links = [
        LinkRow(
            "j",
            "http://a.com/",
            "a.com",
            "a.com",
            f"http://{d}/",
            d,
            d,
            "x",
            "a",
            "text",
            0,
            0,
            0,
            0,
            when,
        )
        for d in ("b.com", "c.com")
    ]

    def insert(table: str, token: str) -> None:
        columns, schema, rows = (
            (LINK_COLUMNS, LINK_SCHEMA, links)
            if "links" in table
            else (PAGE_COLUMNS, PAGE_SCHEMA, [page])
        )
        client.raw_insert(table, list(columns), arrow_stream(rows, schema),
                          settings=insert_settings(client, token), fmt="ArrowStream")  # fmt: skip

    def counts() -> list[int]:
        return [
            client.query(f"SELECT count() FROM {t}").result_rows[0][0]
            for t in ("links_local", "pages_local", "backlinks_state_local")
        ]

    out: dict[str, Any] = {"settings": insert_settings(client, "t")}
    for table in ("links_local", "pages_local"):
        insert(table, "batch-1")
    out["first"] = counts()
    for table in ("links_local", "pages_local"):
        insert(table, "batch-1")
    out["retried"] = counts()
    for table in ("links_local", "pages_local"):
        insert(table, "batch-2")
    out["new_token"] = counts()
    try:
        insert("links", "batch-3")  # through the Distributed table, in the foreground
        out["distributed"] = 0
    except Exception as exc:
        out["distributed"] = error_code(exc)
    stream = arrow_stream(links, LINK_SCHEMA)
    background = {"insert_deduplication_token": "batch-4", "distributed_foreground_insert": 0}
    client.raw_insert("links", list(LINK_COLUMNS), stream, settings=background, fmt="ArrowStream")
    out["background_shards"] = client.query(
        "SELECT uniqExact(cityHash64(d) % 2) FROM values('d String', 'b.com', 'c.com')"
    ).result_rows[0][0]
    out["background_queued"] = client.query(
        "SELECT sum(data_files) FROM system.distribution_queue WHERE table = 'links'"
    ).result_rows[0][0]
    return out


def reference_data_again(client: OneNodeClient) -> list[int]:
    """tld_countries after its file ran, and after it ran once more (a migrate that failed
    halfway runs a file again from its start)."""
    count = "SELECT count() FROM tld_countries"
    before = client.query(count).result_rows[0][0]
    (migration,) = [m for m in cluster_migrations(CLUSTER) if m.name == "008_tld_countries.sql"]
    for statement in migration.statements:
        client.command(statement)
    return [before, client.query(count).result_rows[0][0]]


def answer(client: Any, probe: Callable[[Any], dict[str, Any]]) -> NoReturn:
    """Print what `probe` found (or its error) as one JSON line, and end the process."""
    try:
        result = probe(client)
    except BaseException as exc:
        result = {"error": f"{type(exc).__name__}: {exc}"}
    sys.stdout.write(json.dumps(result, default=str) + "\n")
    sys.stdout.flush()
    # chDB with Replicated tables on the in-memory Keeper hangs while shutting down (seen with
    # chDB 4.4): the answer is out, so the process ends here without running its destructors.
    os._exit(0)


def main() -> None:
    config, data_dir = sys.argv[1], sys.argv[2]
    answer(OneNodeClient(path=data_dir, chdb_options={"config-file": config}), probe)


if __name__ == "__main__":
    main()
