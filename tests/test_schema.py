"""The schema files: one thing each, schema.sql current, and old data directories upgraded.

Data directories created before the split into one file per object recorded the six files kept
in tests/fixtures/old_schema/; upgrading one must end with exactly the objects and definitions
of a fresh directory.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from clickhouse_connect.driver.client import Client

from crawler.schema import (
    DUMP_COMMAND,
    MIGRATIONS_TABLE,
    SCHEMA_DIR,
    SCHEMA_DUMP,
    SQUASHED,
    apply_schema,
    migrations,
)
from crawler.storage import StorageTarget, connect

ROOT = Path(__file__).resolve().parents[1]
OLD_SCHEMA = Path(__file__).resolve().parent / "fixtures" / "old_schema"
OLD_FILES = sorted(path.name for path in OLD_SCHEMA.glob("*.sql"))
# The files the six old ones were split into; files added since are run on every upgrade.
SPLIT_FILES = [m.name for m in migrations()[:23]]


@pytest.fixture
def empty_index(tmp_path: Path) -> Iterator[Client]:
    """A chDB database with nothing in it, not even the migrations table."""
    client = connect(StorageTarget("", tmp_path / "data"), migrate=False)
    yield client
    client.close()


def objects(client: Client) -> dict[str, str]:
    """Every object of the database but the migrations table, with its definition."""
    rows = client.query(
        "SELECT name, create_table_query FROM system.tables "
        "WHERE database = currentDatabase() AND name != {table:String}",
        parameters={"table": MIGRATIONS_TABLE},
    ).result_rows
    return {str(name): str(definition) for name, definition in rows}


def reference_data(client: Client) -> list[tuple[Any, ...]]:
    rows = client.query("SELECT tld, country_code, country FROM tld_countries ORDER BY tld")
    return [tuple(row) for row in rows.result_rows]


def recorded(client: Client) -> list[tuple[int, str]]:
    rows = client.query(f"SELECT version, name FROM {MIGRATIONS_TABLE} ORDER BY version, name")
    return [(int(version), name) for version, name in rows.result_rows]


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, str], list[tuple[Any, ...]]]:
    """Objects and reference data of a data directory created with the current files."""
    client = connect(StorageTarget("", tmp_path_factory.mktemp("fresh")), migrate=False)
    try:
        assert apply_schema(client) == [m.name for m in migrations()]
        return objects(client), reference_data(client)
    finally:
        client.close()


def test_each_file_says_what_it_does_in_its_first_line() -> None:
    found = migrations()
    assert [m.version for m in found] == list(range(1, len(found) + 1))
    for migration in found:
        first = (SCHEMA_DIR / migration.name).read_text().splitlines()[0]
        assert first.startswith("-- ") and migration.intent == first[3:], migration.name
        assert migration.statements, migration.name
    assert len(found) >= 23 and found[22].name == "023_lost_links.sql"


def test_generated_schema_sql_is_not_a_migration(tmp_path: Path) -> None:
    assert SCHEMA_DUMP.is_file()
    assert SCHEMA_DUMP.name not in [m.name for m in migrations()]
    (tmp_path / "001_one.sql").write_text("-- one\nSELECT 1;\n")
    (tmp_path / "schema.sql").write_text("SELECT 2;\n")
    assert [m.name for m in migrations(tmp_path)] == ["001_one.sql"]
    (tmp_path / "2_misnamed.sql").write_text("-- two\nSELECT 2;\n")
    with pytest.raises(RuntimeError, match=re.escape("2_misnamed.sql is not named NNN_name.sql")):
        migrations(tmp_path)


def test_squash_table_covers_each_split_file_once() -> None:
    assert sorted(SQUASHED) == OLD_FILES
    covered = [name for names in SQUASHED.values() for name in names]
    assert sorted(covered) == sorted(SPLIT_FILES)
    # an old name reused by a current file would mark it applied in a fresh directory
    assert not set(OLD_FILES) & {m.name for m in migrations()}


def test_schema_sql_is_a_fresh_dump() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "crawler.schema", "dump"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        check=True,
    )
    assert proc.stdout == SCHEMA_DUMP.read_text(), f"schema.sql is out of date: {DUMP_COMMAND}"


def test_schema_sql_shows_every_object(
    fresh: tuple[dict[str, str], list[tuple[Any, ...]]],
) -> None:
    dumped = SCHEMA_DUMP.read_text()
    definitions, countries = fresh
    shown = re.findall(r"^CREATE (?:TABLE|VIEW|MATERIALIZED VIEW) linkgraph\.(\w+)\b", dumped, re.M)
    assert sorted(shown) == sorted([MIGRATIONS_TABLE, *definitions])
    assert shown[:3] == [MIGRATIONS_TABLE, "pages", "links"]  # in the order the files create them
    assert len(countries) == 251
    assert "-- 251 rows of reference data\nCREATE TABLE linkgraph.tld_countries\n" in dumped


@pytest.mark.parametrize("old_files", [2, 3, 4, 5, 6])
def test_upgrade_from_the_old_files(
    old_files: int,
    empty_index: Client,
    fresh: tuple[dict[str, str], list[tuple[Any, ...]]],
    tmp_path: Path,
) -> None:
    """A directory that recorded the first `old_files` old files, the way the runner before the
    split did (version and name), runs only what they did not cover."""
    old_dir = tmp_path / "old"
    old_dir.mkdir()
    for name in OLD_FILES[:old_files]:
        shutil.copy(OLD_SCHEMA / name, old_dir / name)
    assert apply_schema(empty_index, old_dir) == OLD_FILES[:old_files]
    before = objects(empty_index)

    ran = apply_schema(empty_index)

    covered = {new for old in OLD_FILES[:old_files] for new in SQUASHED[old]}
    assert ran == [m.name for m in migrations() if m.name not in covered]
    assert (objects(empty_index), reference_data(empty_index)) == fresh
    current = [(m.version, m.name) for m in migrations()]
    old = [(int(name[:3]), name) for name in OLD_FILES[:old_files]]
    assert recorded(empty_index) == sorted(current + old)
    assert apply_schema(empty_index) == []
    if old_files == 5:  # the first domain_inbound, through `backlinks`, was brought up to date
        assert "FROM linkgraph.backlinks " in before["domain_inbound"]
        assert "FROM linkgraph.backlinks_state " in objects(empty_index)["domain_inbound"]


def test_each_file_can_run_again(
    empty_index: Client, fresh: tuple[dict[str, str], list[tuple[Any, ...]]]
) -> None:
    """A file that failed halfway runs again from its start: as if every file had."""
    names = [m.name for m in migrations()]
    assert apply_schema(empty_index) == names
    empty_index.command(f"TRUNCATE TABLE {MIGRATIONS_TABLE}")
    assert apply_schema(empty_index) == names
    assert (objects(empty_index), reference_data(empty_index)) == fresh
    assert recorded(empty_index) == [(m.version, m.name) for m in migrations()]
