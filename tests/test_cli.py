"""The command line: help everywhere, and bad input answered with one line, nothing written."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from crawler.cli.main import build_parser
from crawler.reports import REPORTS
from tests.conftest import ROOT, run_cli, run_linkgraph

# The commands that are not reports: a new one is added here and gets the tests below. The
# reports' subcommands come from the registry (crawler/reports); tests/test_reports.py runs each.
OTHER_COMMANDS = {
    "crawl", "worker", "jobs", "status", "pause", "resume", "stop", "recrawl", "sql", "export",
    "disavow", "rank", "extract", "robots", "demo", "warc", "ingest-warc", "migrate", "serve",
}  # fmt: skip


def subcommands() -> list[str]:
    """Every subcommand `linkgraph` registers."""
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return list(sub.choices)


def test_every_command_is_declared_once() -> None:
    assert set(REPORTS) & OTHER_COMMANDS == set()
    assert sorted(subcommands()) == sorted(OTHER_COMMANDS | set(REPORTS))


@pytest.mark.parametrize("command", subcommands())
def test_every_command_has_help(command: str) -> None:
    status, out, err = run_cli(command, "--help")
    assert status == 0 and out.startswith(f"usage: linkgraph {command}"), err
    if command in REPORTS:  # the report's parameters, as declared
        for param in REPORTS[command].all_params:
            assert (param.meta if param.positional else param.flag) in out, param.name


def test_linkgraph_help_runs_as_a_program() -> None:
    proc = run_linkgraph("--help")
    assert all(f"    {command}" in proc.stdout for command in subcommands())


def one_line_error(proc: object, *fragments: str) -> str:
    assert proc.returncode == 2, (proc.stdout, proc.stderr)  # type: ignore[attr-defined]
    lines = proc.stderr.strip().splitlines()  # type: ignore[attr-defined]
    assert len(lines) == 1, proc.stderr  # type: ignore[attr-defined]
    for fragment in fragments:
        assert fragment in lines[0]
    return lines[0]


def test_malformed_seed_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    data = tmp_path / "data"
    proc = run_linkgraph(
        "crawl", "http://ok.example/", "htp:/bad", "--data-dir", str(data), check=False
    )
    line = one_line_error(proc, "argument 2", "'htp:/bad'", "http(s) URL")
    assert line.startswith("linkgraph: error:")
    assert not data.exists()


def test_malformed_line_in_seeds_file_is_named(tmp_path: Path) -> None:
    seeds = tmp_path / "seeds.txt"
    seeds.write_text("# comment\nhttp://a.example/\n\nmailto:x@y.z\n")
    proc = run_linkgraph(
        "crawl", "--seeds-file", str(seeds), "--data-dir", str(tmp_path / "d"), check=False
    )
    one_line_error(proc, f"{seeds}:4", "mailto:x@y.z")


@pytest.mark.parametrize("flag", ["--seeds-file", "--hosts-file"])
def test_missing_file(tmp_path: Path, flag: str) -> None:
    missing = tmp_path / "nope.txt"
    proc = run_linkgraph(
        "crawl",
        "http://a.example/",
        flag,
        str(missing),
        "--data-dir",
        str(tmp_path / "d"),
        check=False,
    )
    one_line_error(proc, str(missing), "No such file")


def test_unreachable_redis(tmp_path: Path) -> None:
    proc = run_linkgraph(
        "crawl",
        "http://a.example/",
        "--redis",
        "redis://127.0.0.1:9/0",
        "--data-dir",
        str(tmp_path / "d"),
        check=False,
    )
    one_line_error(proc, "cannot reach Redis at redis://127.0.0.1:9/0")


def test_unreachable_clickhouse(tmp_path: Path) -> None:
    proc = run_linkgraph(
        "sql", "SELECT 1", "--clickhouse", "http://u:secret@127.0.0.1:9/db", check=False
    )
    line = one_line_error(proc, "cannot open ClickHouse at http://u:***@127.0.0.1:9/db")
    assert "secret" not in line


def empty_index(tmp_path: Path) -> str:
    """A data dir holding an index with nothing in it (reading a missing one is an error)."""
    data = str(tmp_path / "d")
    run_linkgraph("sql", "--write", "--data-dir", data, "SELECT 1")
    return data


def test_sql_error_and_bad_format(tmp_path: Path) -> None:
    data = empty_index(tmp_path)
    one_line_error(
        run_linkgraph("sql", "--data-dir", data, "SELEC 1", check=False),
        "query failed",
        "Syntax error",
    )
    one_line_error(
        run_linkgraph("sql", "--data-dir", data, "--format", "Nope", "SELECT 1", check=False),
        "query failed",
        "Nope",
    )


def test_sql_formats(tmp_path: Path) -> None:
    data = empty_index(tmp_path)
    proc = run_linkgraph(
        "sql",
        "--data-dir",
        data,
        "--format",
        "JSONEachRow",
        "SELECT name FROM system.tables WHERE database = currentDatabase() "
        "AND name IN ('backlinks', 'domain_inbound', 'anchors') ORDER BY name",
    )
    assert [json.loads(line)["name"] for line in proc.stdout.splitlines()] == [
        "anchors",
        "backlinks",
        "domain_inbound",
    ]
    proc = run_linkgraph(
        "sql",
        "--data-dir",
        data,
        "--format",
        "CSV",
        "SELECT version, name FROM schema_migrations ORDER BY version",
    )
    files = sorted((ROOT / "deploy" / "clickhouse").glob("[0-9][0-9][0-9]_*.sql"))
    assert proc.stdout.splitlines()[:2] == ['1,"001_pages.sql"', '2,"002_links.sql"']
    assert proc.stdout.splitlines() == [f'{int(f.name[:3])},"{f.name}"' for f in files]


def test_negative_limit_is_a_usage_error() -> None:
    proc = run_linkgraph("crawl", "http://a.example/", "--max-pages", "-1", check=False)
    assert proc.returncode == 2 and "-1 is negative" in proc.stderr


def test_new_job_without_seeds(tmp_path: Path) -> None:
    proc = run_linkgraph("crawl", "--job", "fresh", "--data-dir", str(tmp_path / "d"), check=False)
    one_line_error(proc, "job 'fresh' has no seeds")


def test_extract_prints_links_as_json_lines(tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    page.write_text(
        '<base href="/docs/"><a href="a.html#top" rel="NoFollow UGC">A <b>one</b></a>'
        '<!-- <a href="/hidden">x</a> --><area href="//Other.EXAMPLE:80/m" alt="map">'
        '<a href="javascript:void(0)">js</a>'
    )
    proc = run_linkgraph("extract", "--url", "http://site.example/x/y.html", str(page))
    assert [json.loads(line) for line in proc.stdout.splitlines()] == [
        {
            "url": "http://site.example/docs/a.html",
            "type": "text",
            "anchor": "A one",
            "rel": ["nofollow", "ugc"],
            "tag": "a",
            "nofollow": True,
            "ugc": True,
            "sponsored": False,
            "page_nofollow": False,
            "encoding": "utf-8",
            "encoding_source": "utf-8",
        },
        {
            "url": "http://other.example/m",
            "type": "area",
            "anchor": "map",
            "rel": [],
            "tag": "area",
            "nofollow": False,
            "ugc": False,
            "sponsored": False,
            "page_nofollow": False,
            "encoding": "utf-8",
            "encoding_source": "utf-8",
        },
    ]


def test_extract_shows_types_and_the_encoding_it_decided_on(tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    page.write_bytes(
        '<link rel=canonical href="/c"><a href="/s?q=é"><img alt="Logo"></a>'
        '<iframe src="/f"></iframe><form action="/go"></form>'.encode("cp1252")
    )
    proc = run_linkgraph(
        "extract", "--url", "http://site.example/", str(page),
        "--content-type", "text/html; charset=ISO-8859-1",
        "--link-header", '<http://site.example/de>; rel="alternate"; hreflang="de"',
    )  # fmt: skip
    records = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [(r["type"], r["url"], r["anchor"], r["tag"]) for r in records] == [
        ("hreflang", "http://site.example/de", "", "header"),
        ("canonical", "http://site.example/c", "", "link"),
        ("image", "http://site.example/s?q=%E9", "Logo", "a"),
        ("frame", "http://site.example/f", "", "iframe"),
        ("form", "http://site.example/go", "", "form"),
    ]
    assert {(r["encoding"], r["encoding_source"]) for r in records} == {("cp1252", "http")}


def test_robots_decides_each_url(tmp_path: Path) -> None:
    robots = tmp_path / "robots.txt"
    robots.write_text(
        "User-agent: *\nDisallow: /\n\nUser-agent: linkgraph\nAllow: /pub\nDisallow: /\n"
    )
    proc = run_linkgraph("robots", str(robots), "http://a.example/pub/x", "http://a.example/priv")
    assert [json.loads(line)["allowed"] for line in proc.stdout.splitlines()] == [True, False]
    proc = run_linkgraph("robots", "--agent", "otherbot", str(robots), "http://a.example/pub/x")
    assert json.loads(proc.stdout)["allowed"] is False
