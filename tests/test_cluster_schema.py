"""The cluster schema (crawler/cluster_schema.py: the overrides in deploy/clickhouse/cluster/,
the other files derived) and `linkgraph migrate`, in chDB configured as a 2-shard cluster
(tests/fixtures/chdb_cluster/config.xml: remote_servers, macros, an in-memory Keeper).
tests/chdb_cluster.py says what chDB cannot run and how it stands in: the Replicated tables are
created on Keeper but stay read-only, so everything else is created and written with their
MergeTree counterparts; the shards are never reached, so queries are planned, not run.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from crawler.cluster_schema import CLUSTER_SCHEMA_DIR, cluster_form, cluster_migrations
from crawler.schema import SCHEMA_DIR, apply_schema, migrations, pending
from crawler.storage import StorageTarget, connect
from tests.conftest import run_cli

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "tests" / "fixtures" / "chdb_cluster" / "config.xml"
NAMES = [m.name for m in migrations(SCHEMA_DIR)]
SHARDED = {
    "pages": "cityHash64(domain)",
    "links": "cityHash64(dst_domain)",
    "backlinks_state": "cityHash64(dst_domain)",
}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return probed("tests.chdb_cluster", CONFIG, tmp_path_factory.mktemp("chdb-cluster") / "data")


def probed(module: str, config: Path, data: Path) -> dict[str, Any]:
    """What the probe `module` found, run in a process of its own on the cluster `config`."""
    proc = subprocess.run(
        [sys.executable, "-m", module, str(config), str(data)],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    result: dict[str, Any] = json.loads(proc.stdout.splitlines()[-1])
    assert "error" not in result, result.get("error")
    return result


def test_every_schema_file_has_its_cluster_form() -> None:
    """An override where the cluster needs something else, else the derived form."""
    by_name = {m.name: m for m in cluster_migrations("lg")}
    assert list(by_name) == NAMES
    overrides = sorted(path.name for path in CLUSTER_SCHEMA_DIR.glob("*.sql"))
    assert overrides == [
        "001_pages.sql", "002_links.sql", "003_backlinks_state.sql", "007_domain_rank.sql",
        "008_tld_countries.sql", "018_link_intersect.sql", "020_page_fetches.sql",
        "021_live_links.sql", "024_pages_insert_deduplication.sql",
        "025_links_insert_deduplication.sql", "026_backlinks_state_insert_deduplication.sql",
        "028_links_type.sql", "029_backlinks_state_types.sql", "031_pages_warc.sql",
    ]  # fmt: skip
    for name in overrides:  # the same intent, on its first line; not what cluster_form makes
        single_sql = (SCHEMA_DIR / name).read_text()
        override = (CLUSTER_SCHEMA_DIR / name).read_text()
        assert override.splitlines()[0] == single_sql.splitlines()[0]
        assert derived_sql(single_sql) != override, name
    on_every_node = re.compile(
        r"(CREATE (OR REPLACE )?VIEW (IF NOT EXISTS )?|ALTER TABLE |DROP (TABLE|VIEW) "
        r"(IF EXISTS )?)\w+ ON CLUSTER 'lg' "
    )
    for single in migrations(SCHEMA_DIR):
        if single.name in overrides:
            continue
        derived = by_name[single.name].statements
        # the same statements on the same objects, each on every node
        assert [s.replace(" ON CLUSTER 'lg'", "", 1) for s in derived] == list(single.statements)
        assert all(on_every_node.match(statement) for statement in derived), single.name


def derived_sql(single_sql: str) -> str:
    """What cluster_form makes of a file, or why it makes nothing."""
    try:
        return cluster_form(single_sql, frozenset(SHARDED))
    except ValueError as exc:
        return f"refused: {exc}"


def test_cluster_form_puts_on_cluster_after_each_object_name() -> None:
    single = (
        "-- Change `v`: a view.\n\n"
        "-- why\n"
        "DROP VIEW IF EXISTS old_v;\n\n"
        "CREATE OR REPLACE VIEW v AS\nSELECT 1 AS one;\n"
        "CREATE VIEW IF NOT EXISTS w AS SELECT one FROM v;\n"
        "ALTER TABLE domain_rank\n    ADD COLUMN IF NOT EXISTS x UInt8;\n"
        "INSERT INTO domain_rank (domain) VALUES\n('a.com');\n"
    )
    assert cluster_form(single, frozenset(SHARDED)) == (
        "-- Change `v`: a view.\n\n"
        "-- why\n"
        "DROP VIEW IF EXISTS old_v ON CLUSTER '{cluster}';\n\n"
        "CREATE OR REPLACE VIEW v ON CLUSTER '{cluster}' AS\nSELECT 1 AS one;\n"
        "CREATE VIEW IF NOT EXISTS w ON CLUSTER '{cluster}' AS SELECT one FROM v;\n"
        "ALTER TABLE domain_rank ON CLUSTER '{cluster}'\n    ADD COLUMN IF NOT EXISTS x UInt8;\n"
        "INSERT INTO domain_rank (domain) SETTINGS insert_deduplicate = 0 VALUES\n('a.com');\n"
    )


@pytest.mark.parametrize(
    ("statement", "error"),
    [
        ("CREATE TABLE t (a UInt8) ENGINE = MergeTree ORDER BY a;", "a table on a cluster"),
        ("CREATE MATERIALIZED VIEW m TO t AS SELECT 1;", "a materialized view on a cluster"),
        ("ALTER TABLE links ADD COLUMN a UInt8;", "links is sharded, its rows in links_local"),
        ("INSERT INTO pages SELECT * FROM pages;", "pages is sharded, its rows in pages_local"),
        ("TRUNCATE TABLE tld_countries;", "no cluster form for 'TRUNCATE TABLE tld_countries;'"),
    ],
)
def test_cluster_form_refuses_what_needs_an_override(statement: str, error: str) -> None:
    with pytest.raises(ValueError, match=re.escape(error)):
        cluster_form("-- Change it.\n" + statement + "\n", frozenset(SHARDED))


def test_an_override_takes_the_single_node_reference_data() -> None:
    (single,) = [m for m in migrations(SCHEMA_DIR) if m.name == "008_tld_countries.sql"]
    (clustered,) = [m for m in cluster_migrations("lg") if m.name == "008_tld_countries.sql"]
    insert = "INSERT INTO tld_countries (tld, country_code, country) VALUES\n"
    assert single.statements[2].startswith(insert)
    assert clustered.statements[1:] == (
        single.statements[1],
        single.statements[2].replace(" VALUES\n", " SETTINGS insert_deduplicate = 0 VALUES\n", 1),
    )
    assert "ReplicatedMergeTree" in clustered.statements[0]


def test_a_cluster_form_names_a_schema_file_and_one_statement(tmp_path: Path) -> None:
    single, overrides = tmp_path / "single", tmp_path / "cluster"
    single.mkdir()
    overrides.mkdir()
    (single / "001_t.sql").write_text("-- Create `t`.\nCREATE TABLE t (a UInt8) ENGINE = Log;\n")
    with pytest.raises(RuntimeError, match=r"cluster form of 001_t\.sql: a table on a cluster"):
        cluster_migrations("lg", single, overrides)
    (overrides / "001_t.sql").write_text("-- Create `t`.\n-- @single-node INSERT INTO t\n")
    with pytest.raises(RuntimeError, match="0 statements begin with 'INSERT INTO t', not one"):
        cluster_migrations("lg", single, overrides)
    create = "CREATE TABLE t ON CLUSTER '{cluster}' (a UInt8) ENGINE = Log;"
    (overrides / "001_t.sql").write_text(f"-- Create `t`.\n{create}\n")
    (overrides / "002_u.sql").write_text("-- Create `u`.\n")
    with pytest.raises(RuntimeError, match=r"has no file of .* named 002_u\.sql"):
        cluster_migrations("lg", single, overrides)
    (overrides / "002_u.sql").unlink()
    (m,) = cluster_migrations("lg", single, overrides)
    assert (m.version, m.name, m.intent) == (1, "001_t.sql", "Create `t`.")
    assert m.statements == ("CREATE TABLE t ON CLUSTER 'lg' (a UInt8) ENGINE = Log",)


def test_every_ddl_statement_runs_on_the_whole_cluster() -> None:
    for migration in cluster_migrations("lg"):
        for statement in migration.statements:
            if statement.startswith(("INSERT", "TRUNCATE")):
                # reference data: replicated to every node by its table
                assert "tld_countries" in statement
                continue
            assert " ON CLUSTER 'lg'" in statement, (migration.name, statement[:80])
            assert "{cluster}" not in statement


def test_chdb_reads_the_cluster_config(cluster: dict[str, Any]) -> None:
    assert cluster["clusters"] == [[1, "localhost"], [2, "127.0.0.1"]]
    assert cluster["macros"] == {"cluster": "linkgraph", "shard": "01", "replica": "ch-01-1"}


def test_every_statement_parses_with_on_cluster(cluster: dict[str, Any]) -> None:
    statements = [
        s
        for m in cluster_migrations("linkgraph")
        for s in m.statements
        if not s.startswith("INSERT")
    ]
    assert cluster["unparsed"] == []
    assert cluster["parsed"] == len(statements)


def test_replicated_tables_are_registered_in_keeper(cluster: dict[str, Any]) -> None:
    """Sharded tables replicate within their shard; reference data across all shards."""
    shard = {t: f"/clickhouse/tables/01/linkgraph/{t}_local" for t in SHARDED}
    everywhere = {
        t: f"/clickhouse/tables/all/linkgraph/{t}"
        for t in ("domain_rank", "tld_countries", "schema_migrations")
    }
    assert cluster["replicas"] == {f"{t}_local": path for t, path in shard.items()} | everywhere


def test_migrate_applies_each_file_once_and_records_it(cluster: dict[str, Any]) -> None:
    assert cluster["ran"] == NAMES
    assert cluster["ran_again"] == []
    assert cluster["recorded"] == NAMES


def test_distributed_tables_under_todays_names(cluster: dict[str, Any]) -> None:
    tables = cluster["tables"]
    for name, key in SHARDED.items():
        engine, full = tables[name]
        assert engine == "Distributed"
        assert full == f"Distributed('linkgraph', 'writable', '{name}_local', {key})"
    engines = {name: engine for name, (engine, _) in tables.items()}
    assert engines["backlinks_mv"] == "MaterializedView"
    assert "TO writable.backlinks_state_local" in tables["backlinks_mv"][1]
    assert "FROM writable.links_local" in tables["backlinks_mv"][1]


def test_same_objects_and_columns_as_one_node(cluster: dict[str, Any]) -> None:
    """Every object an operator reads has the same name and columns on a cluster."""
    single, on_cluster = cluster["columns"]["single"], cluster["columns"]["writable"]
    assert {c: t for c, t in on_cluster.items() if not c.split(".")[0].endswith("_local")} == single


def test_every_view_has_a_plan_over_the_shards(cluster: dict[str, Any]) -> None:
    views = {n for n, (engine, _) in cluster["tables"].items() if engine == "View"}
    assert set(cluster["plans"]) == views
    # a parameterized view has no columns until it is given its parameters
    single_objects = {column.split(".")[0] for column in cluster["columns"]["single"]}
    single_objects.add("link_intersect")
    assert views == single_objects - {n for n, (e, _) in cluster["tables"].items() if e != "View"}
    for view, plan in cluster["plans"].items():
        assert not plan.startswith("error"), (view, plan)
        assert "ReadFromRemote" in plan, view


def test_single_node_history_views_fail_over_distributed_tables(cluster: dict[str, Any]) -> None:
    """Code 288: the reason page_fetches joins the shard's own table and live_links uses
    GLOBAL NOT IN on a cluster. link_intersect's plain NOT IN stays on the node the query
    reached, so it plans; its cluster form says GLOBAL anyway."""
    assert cluster["plain_join"] == {"link_intersect": 0, "page_fetches": 288, "live_links": 288}


def test_a_retried_insert_adds_no_rows(cluster: dict[str, Any]) -> None:
    dedup = cluster["dedup"]
    assert dedup["settings"] == {
        "insert_deduplication_token": "t",
        "distributed_foreground_insert": 1,
    }
    # links_local, pages_local, backlinks_state_local (filled by backlinks_mv)
    assert dedup["first"] == [2, 1, 2]
    assert dedup["retried"] == [2, 1, 2]
    assert dedup["new_token"] == [4, 2, 4]


def test_inserts_through_distributed_tables_wait_for_the_shards(cluster: dict[str, Any]) -> None:
    """In the foreground, an insert the shards did not take fails (Code 279: no shard
    answered), so its pages stay leased; in the background it would have returned at once,
    its rows queued on this node's disk."""
    dedup = cluster["dedup"]
    assert dedup["distributed"] == 279
    assert dedup["background_queued"] == dedup["background_shards"]


def test_reference_data_survives_its_file_running_again(cluster: dict[str, Any]) -> None:
    assert cluster["reference"] == [cluster["single_tld_countries"]] * 2
    assert cluster["single_tld_countries"] == 251


def test_pending_lists_the_files_not_applied(tmp_path: Path) -> None:
    client = connect(StorageTarget("", tmp_path), migrate=False)
    try:
        assert [m.name for m in pending(client)] == NAMES
        apply_schema(client)
        assert pending(client) == []
        client.command("DELETE FROM schema_migrations WHERE name = {n:String}", {"n": NAMES[-1]})
        assert [m.name for m in pending(client)] == [NAMES[-1]]
    finally:
        client.close()


def test_migrate_command(tmp_path: Path) -> None:
    status, out, err = run_cli("migrate", "--data-dir", str(tmp_path))
    assert (status, err) == (0, "")
    where = f"chdb://{tmp_path / 'clickhouse'}"
    assert out == f"{where}: applied {len(NAMES)} schema files, {NAMES[0]} to {NAMES[-1]}\n"
    status, out, err = run_cli("migrate", "--data-dir", str(tmp_path))
    assert (status, out, err) == (0, f"{where}: the schema is up to date\n", "")
    status, out, err = run_cli("migrate", "--data-dir", str(tmp_path), "--cluster", "lg")
    assert (status, out) == (2, "")
    assert err == "linkgraph: error: --cluster needs a ClickHouse server: give --clickhouse URL\n"
