"""Output that fits pipes and habits, as clickhouse-client's: TabSeparated in a pipe,
PrettyCompact on a terminal (a real pseudo-terminal here), no row limit applied silently, a
FORMAT clause honoured, one statement per `sql`, results streamed, `-o -` as stdout and an
unwritable `-o` as one line. Each command runs as a real `linkgraph` process."""

from __future__ import annotations

import os
import pty
import select
import subprocess
from pathlib import Path

import pytest

from crawler.storage import StorageTarget, connect
from tests.conftest import LINKGRAPH, ROOT, query, run_linkgraph
from tests.test_owner_reads import silent_crawl

WAIT = 120.0  # seconds a read may wait before the test fails (not a timing check)
BACKLINKS = 1500  # more than the 1,000 rows a Pretty format shows
ROWS = (
    "INSERT INTO links (job, src_url, src_host, src_domain, dst_url, dst_host, dst_domain, "
    "anchor, tag, fetched_at) SELECT 'j', 'http://src' || toString(number) || '.org/', "
    "'src' || toString(number) || '.org', 'src' || toString(number) || '.org', "
    "'http://example.com/', 'example.com', 'example.com', 'home', 'a', "
    f"toDateTime64('2026-01-02 03:04:05', 3, 'UTC') FROM numbers({BACKLINKS})"
)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An index with BACKLINKS backlinks to example.com, one from each of as many domains."""
    where = tmp_path_factory.mktemp("output") / "data"
    client = connect(StorageTarget("", where))
    try:
        client.command(ROWS)
    finally:
        client.close()
    return where


def readable(fd: int, seconds: float) -> bool:
    """Whether `fd` has something to read within `seconds`. poll, not select: by then the test
    process may hold descriptors past select's 1024."""
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(seconds * 1000))


def on_terminal(*args: str) -> tuple[int, str, str]:
    """Run `linkgraph` with its stdout on a pseudo-terminal: (status, what the terminal
    showed, stderr)."""
    main, side = pty.openpty()
    proc = subprocess.Popen(
        [*LINKGRAPH, *args], stdout=side, stderr=subprocess.PIPE, cwd=ROOT, text=True
    )
    os.close(side)
    shown = b""
    try:
        while True:
            assert readable(main, WAIT), (
                "the terminal got nothing more, and the command did not end"
            )
            try:
                chunk = os.read(main, 1 << 16)
            except OSError:  # EIO: the command ended, its side is closed
                break
            if not chunk:
                break
            shown += chunk
        _, err = proc.communicate(timeout=WAIT)
    finally:
        os.close(main)
        if proc.poll() is None:  # a failed test leaves no command holding the index
            proc.kill()
            proc.wait()
    return proc.returncode, shown.decode().replace("\r\n", "\n"), err


def test_a_pipe_gets_tab_separated_a_terminal_pretty_compact(data: Path) -> None:
    sql = "SELECT 1 AS x, 'a b' AS y"
    piped = run_linkgraph("sql", "--data-dir", str(data), sql)
    assert piped.stdout == "1\ta b\n"
    pretty = run_linkgraph("sql", "--data-dir", str(data), sql, "--format", "PrettyCompact")
    status, shown, err = on_terminal("sql", "--data-dir", str(data), sql)
    assert (status, err) == (0, "")
    assert shown == pretty.stdout
    assert shown.splitlines()[1] == "1. │ 1 │ a b │"  # and no colour codes, on any terminal
    # a report too, and --format still decides
    status, shown, err = on_terminal("top", "--data-dir", str(data))
    assert status == 0 and shown.splitlines()[0].lstrip().startswith("┌─domain─")
    status, shown, err = on_terminal("top", "--data-dir", str(data), "--format", "CSV")
    assert shown == '"example.com",1500,1500,1500,0\n'
    assert (
        run_linkgraph("top", "--data-dir", str(data)).stdout == "example.com\t1500\t1500\t1500\t0\n"
    )


def test_no_row_limit_is_applied_silently(data: Path, tmp_path: Path) -> None:
    command = ["backlinks", "example.com", "--data-dir", str(data)]
    lines = run_linkgraph(*command, "--limit", "5000").stdout.splitlines()
    assert len(lines) == BACKLINKS
    assert {line.split("\t")[0] for line in lines} == {
        f"http://src{n}.org/" for n in range(BACKLINKS)
    }
    assert len(run_linkgraph(*command, "--limit", "1200").stdout.splitlines()) == 1200
    assert len(run_linkgraph(*command).stdout.splitlines()) == 50  # the report's own default
    out = tmp_path / "backlinks.tsv"
    assert run_linkgraph(*command, "--limit", "5000", "-o", str(out)).stdout == ""
    assert out.read_text().splitlines() == lines
    # on a terminal, Pretty's cut at 1,000 rows is said, not silent
    status, shown, _ = on_terminal(*command, "--limit", "5000")
    assert status == 0 and shown.splitlines()[-1] == "Showed 1000 out of 1500 rows."


@pytest.mark.parametrize(
    ("sql", "given", "printed"),
    [
        ("SELECT 1 AS x FORMAT JSONEachRow", [], '{"x":1}\n'),
        ("SELECT 1 AS x FORMAT JSONEachRow", ["--format", "CSV"], '{"x":1}\n'),  # the query's
        ("select 1 as x, 'FORMAT CSV' as y -- FORMAT Vertical\n;", [], "1\tFORMAT CSV\n"),
        ("SELECT 2 AS x FORMAT CSVWithNames SETTINGS max_threads = 1", [], '"x"\n2\n'),
    ],
)
def test_a_format_clause_is_honoured(data: Path, sql: str, given: list[str], printed: str) -> None:
    # the SETTINGS clause is refused in readonly mode, so --write for that one
    write = ["--write"] if "SETTINGS" in sql else []
    assert run_linkgraph("sql", "--data-dir", str(data), *write, sql, *given).stdout == printed


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("", "the query is empty"),
        ("   \n", "the query is empty"),
        (" ; ", "the query is empty"),
        ("-- only a comment", "the query is empty"),
        ("SELECT 1; SELECT 2", "the query holds several statements: run them one by one"),
        (
            "INSERT INTO pages (job, url) SELECT 'x', 'http://x.test/'; DROP TABLE pages",
            "the query holds several statements: run them one by one",
        ),
    ],
)
def test_one_statement_exactly(data: Path, sql: str, message: str) -> None:
    proc = run_linkgraph("sql", "--data-dir", str(data), "--write", sql, check=False)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.startswith(f"linkgraph: error: {message}")
    assert proc.stderr.count("\n") == 1
    assert query(data, "SELECT count() FROM pages WHERE job = 'x'")[0][0] == 0


def first_lines_of_endless(*args: str) -> tuple[list[str], int]:
    """The first three lines of an endless result, read while the command still runs; then
    the command's status once its reader has gone."""
    endless = "SELECT number FROM system.numbers"
    proc = subprocess.Popen(
        [*LINKGRAPH, "sql", endless, "--format", "TSV", *args],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=ROOT,
    )  # fmt: skip
    assert proc.stdout is not None
    lines = []
    try:
        for _ in range(3):
            assert readable(proc.stdout.fileno(), WAIT), (
                "nothing came out: the result is held, not streamed"
            )
            lines.append(proc.stdout.readline().decode())
        assert proc.poll() is None
    finally:
        proc.stdout.close()  # the reader goes away, as `| head -3` does
        try:
            status = proc.wait(timeout=WAIT)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    return lines, status


def test_sql_streams_its_result(data: Path, tmp_path: Path) -> None:
    assert first_lines_of_endless("--data-dir", str(data)) == (["0\n", "1\n", "2\n"], 0)
    with silent_crawl(data, tmp_path):  # through the process that owns the index
        assert first_lines_of_endless("--data-dir", str(data)) == (["0\n", "1\n", "2\n"], 0)
        after = run_linkgraph("sql", "--data-dir", str(data), "SELECT count() FROM links")
        assert after.stdout == f"{BACKLINKS}\n"  # the owner goes on answering


def test_dash_is_stdout_and_a_bad_output_is_one_line(data: Path, tmp_path: Path) -> None:
    where = ["--data-dir", str(data)]
    commands = {
        "sql": ["sql", "SELECT count() FROM links", *where],
        "report": ["top", *where],
        "export": ["export", "domain_inbound", "--format", "TSV", *where],
        "disavow": ["disavow", "example.com", "--where", "backlinks > 0", *where],
    }
    for name, command in commands.items():
        to_stdout = run_linkgraph(*command, "-o", "-")
        out = tmp_path / f"{name}.out"
        run_linkgraph(*command, "-o", str(out))
        written = out.read_text()
        if name == "disavow":  # its second line says when it was written
            written, printed = (_without_line_2(t) for t in (written, to_stdout.stdout))
        else:
            printed = to_stdout.stdout
        assert printed and printed == written, name
        for bad, why in (
            (tmp_path, "is a directory"),
            (tmp_path / "missing" / "f", f"no directory {tmp_path / 'missing'}"),
        ):
            proc = run_linkgraph(*command, "-o", str(bad), check=False)
            assert (proc.returncode, proc.stdout) == (2, ""), name
            assert proc.stderr == f"linkgraph: error: -o {bad}: {why}\n", name
    assert not (tmp_path / "missing").exists()


def _without_line_2(text: str) -> str:
    lines = text.split("\n")
    return "\n".join(lines[:1] + lines[2:])
