"""`linkgraph sql` is read-only (ClickHouse readonly=1) unless --write is given."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import query, run_linkgraph

# (VALUES cannot be used: `sql` appends FORMAT to the query)
INSERT = "INSERT INTO pages (job, url) SELECT 'manual', 'http://a.test/'"


def count_pages(data: Path) -> int:
    return int(query(data, "SELECT count() FROM pages")[0][0])


@pytest.mark.parametrize(
    "sql",
    [
        INSERT,
        "DROP TABLE pages",
        "TRUNCATE TABLE pages",
        "ALTER TABLE pages DELETE WHERE 1",
        "SELECT count() FROM pages SETTINGS readonly = 0",  # the mode cannot be lifted
    ],
)
def test_writes_are_refused_with_one_line_and_change_nothing(tmp_path: Path, sql: str) -> None:
    data = tmp_path / "d"
    run_linkgraph("sql", "--data-dir", str(data), "--write", INSERT)
    proc = run_linkgraph("sql", "--data-dir", str(data), sql, check=False)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1
    assert proc.stderr.startswith("linkgraph: error: query failed: ")
    assert "readonly mode" in proc.stderr
    assert count_pages(data) == 1  # the table is there, with its one row


def test_write_allows_changes(tmp_path: Path) -> None:
    data = tmp_path / "d"
    run_linkgraph("sql", "--data-dir", str(data), "--write", INSERT)
    run_linkgraph("sql", "--data-dir", str(data), "--write", INSERT)
    assert count_pages(data) == 2
    proc = run_linkgraph("sql", "--data-dir", str(data), "--format", "TSV", "SELECT url FROM pages")
    assert proc.stdout == "http://a.test/\nhttp://a.test/\n"  # reading needs no --write
