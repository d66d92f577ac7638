"""The CLI reads a busy index: while a `linkgraph crawl` owns the embedded index, `sql`, the
reports and `export` are answered by that crawl (crawler/service/readserver.py), with the
output the idle index gives, byte for byte. All through real processes: the crawl, the test
web, and each command as a `linkgraph` subprocess."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from crawler.demo.server import LocalWebServer, write_hosts_file
from crawler.reports import REPORTS
from crawler.service.owner import OWNER_FILE, find_owner
from tests.conftest import (
    LINKGRAPH,
    ROOT,
    SHORT_BACKOFF,
    crawl_test_web,
    query,
    run_cli,
    run_linkgraph,
)
from tests.test_reports import SAMPLES, argv
from tests.testweb import build_test_web

WAIT = 120.0  # seconds any one wait may last before the test fails (not a timing check)


def start_crawl(*args: str) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.Popen(
        [*LINKGRAPH, "crawl", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env=env, cwd=ROOT,
    )  # fmt: skip


def wait_for_owner(data: Path, crawl: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + WAIT
    while find_owner(data) is None:
        if crawl.poll() is not None:
            raise AssertionError(f"the crawl ended first: {crawl.communicate()}")
        assert time.monotonic() < deadline, "the crawl never wrote its owner file"
        time.sleep(0.05)


def end(crawl: subprocess.Popen[str], *, at_once: bool = False) -> tuple[str, str]:
    """Stop the crawl as Ctrl-C does (twice: at once, not waiting for its downloads)."""
    if crawl.poll() is None:
        crawl.send_signal(signal.SIGINT)
        if at_once:
            time.sleep(0.5)  # not a timing check: two signals in a row can merge into one
            crawl.send_signal(signal.SIGINT)
    try:
        return crawl.communicate(timeout=WAIT)
    finally:
        if crawl.poll() is None:
            crawl.kill()
            crawl.communicate()


def count_pages(data: Path) -> int:
    proc = run_linkgraph("sql", "--data-dir", str(data), "SELECT count() FROM pages")
    assert proc.stderr == ""
    return int(proc.stdout)


def test_sql_answers_with_growing_counts_while_a_crawl_runs(tmp_path: Path) -> None:
    web = build_test_web()
    data, hosts = tmp_path / "data", tmp_path / "hosts"
    with LocalWebServer(web) as server:
        write_hosts_file(hosts, web.hosts())
        crawl = start_crawl(
            *web.seeds(server.port), "--job", "slow", "--data-dir", str(data),
            "--hosts-file", str(hosts), "--allow-private", "--delay", "0.4", "-q",
            "--workers", "1", *SHORT_BACKOFF,
        )  # fmt: skip
        try:
            wait_for_owner(data, crawl)
            owner_file = data / OWNER_FILE
            assert stat.S_IMODE(owner_file.stat().st_mode) == 0o600
            saved = json.loads(owner_file.read_text())
            assert saved["pid"] == crawl.pid and saved["kind"] == "crawl"
            assert saved["url"].startswith("http://127.0.0.1:") and len(saved["token"]) >= 32
            counts = [count_pages(data)]
            deadline = time.monotonic() + WAIT
            while crawl.poll() is None and counts[-1] == counts[0]:
                assert time.monotonic() < deadline
                counts.append(count_pages(data))
            assert crawl.poll() is None, "the crawl ended before its count grew"
        finally:
            _, err = end(crawl)
    assert crawl.returncode == 0, err
    assert counts == sorted(counts) and counts[-1] > counts[0]
    assert not (data / OWNER_FILE).exists()  # removed at exit, here on Ctrl-C
    # idle again: the same command opens the index itself
    assert count_pages(data) == query(data, "SELECT count() FROM pages")[0][0] >= counts[-1]


@contextmanager
def silent_host() -> Iterator[int]:
    """A port that accepts connections and never answers: a crawl of it waits, writing
    nothing to the index, for as long as the test needs an owner."""
    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join()
        for conn in held:
            conn.close()
        listener.close()


def read_commands(data: Path, out_dir: Path) -> dict[str, list[str]]:
    """Every report (its sample parameters, default format), sql, export and disavow."""
    where = ["--data-dir", str(data)]
    commands = {name: [*argv(r, SAMPLES[name]), *where] for name, r in REPORTS.items()}
    commands["backlinks-json"] = [*argv(REPORTS["backlinks"], SAMPLES["backlinks"]), *where,
                                  "--format", "JSONEachRow", "--limit", "5000"]  # fmt: skip
    commands["profile-json"] = ["profile", "www.example.com", "--format", "json", *where]
    commands["sql"] = ["sql", "SELECT url, status, links FROM pages ORDER BY url", *where]
    commands["sql-format"] = ["sql", "SELECT host, count() AS n FROM pages GROUP BY host "
                              "ORDER BY host FORMAT JSONEachRow", *where]  # fmt: skip
    commands["sql-param"] = ["sql", "SELECT count() FROM backlinks WHERE dst_domain = "
                             "'example.com'", *where]  # fmt: skip
    for fmt in ("CSV", "TSV", "JSONEachRow"):
        commands[f"export-{fmt}"] = ["export", "backlinks", "--format", fmt, "-o", "-", *where]
    commands["export-file"] = ["export", "backlinks", "--where", "follow = 1",
                               "-o", str(out_dir / "backlinks.csv"), *where]  # fmt: skip
    commands["disavow"] = ["disavow", "example.com", "--where", "backlinks > 0", *where]
    return commands


def outputs(commands: dict[str, list[str]], out_dir: Path) -> dict[str, tuple[str, str]]:
    """Each command's stdout and stderr, run in this process (stdout is not a terminal). The
    disavow file's second line says when it was written: left out."""
    got = {}
    for name, command in commands.items():
        status, out, err = run_cli(*command)
        assert status == 0, (name, err)
        got[name] = (out, err)
    lines = got["disavow"][0].split("\n")
    assert lines[1].startswith("# 8 domains; linkgraph ")
    got["disavow"] = ("\n".join(lines[:1] + lines[2:]), got["disavow"][1])
    got["export-file-bytes"] = ((out_dir / "backlinks.csv").read_text(), "")
    return got


def test_reports_sql_and_export_through_the_owner_equal_the_idle_index(tmp_path: Path) -> None:
    crawled = crawl_test_web(tmp_path, "v1", 0)
    data = crawled.data_dir
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    commands = read_commands(data, out_dir)
    idle = outputs(commands, out_dir)
    (out_dir / "backlinks.csv").unlink()
    for name in commands:
        if not name.startswith(("export", "disavow")):
            assert idle[name][0] and idle[name][1] == "", name  # each answers something
    with silent_crawl(data, tmp_path) as crawl:
        busy = outputs(commands, out_dir)
        assert crawl.poll() is None  # the owner answered them all
    assert busy == idle


INSERT = "INSERT INTO pages (job, url) SELECT 'manual', 'http://a.test/'"


@contextmanager
def silent_crawl(data: Path, tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    """A crawl that owns the index in `data` and writes nothing to it while the block runs."""
    hosts = tmp_path / "silent-hosts"
    write_hosts_file(hosts, ["silent.test"])
    with silent_host() as port:
        crawl = start_crawl(
            f"http://silent.test:{port}/", "--job", "owner", "--data-dir", str(data),
            "--hosts-file", str(hosts), "--allow-private", "-q", "--workers", "1",
        )  # fmt: skip
        try:
            wait_for_owner(data, crawl)
            yield crawl
        finally:
            end(crawl, at_once=True)
    assert not (data / OWNER_FILE).exists()  # removed at exit, here on a second Ctrl-C


def test_a_stale_owner_file_is_ignored_and_a_silent_owner_is_named(tmp_path: Path) -> None:
    data = tmp_path / "data"
    run_linkgraph("sql", "--data-dir", str(data), "--write", INSERT)
    dead = subprocess.Popen(["true"])
    dead.wait()  # its pid is gone: the file is stale, and the index is read directly
    owner = {"pid": dead.pid, "kind": "crawl", "url": "http://127.0.0.1:9", "token": "x"}
    (data / OWNER_FILE).write_text(json.dumps(owner))
    assert count_pages(data) == 1
    closed = socket.create_server(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there any more
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        owner = {"pid": sleeper.pid, "kind": "crawl", "url": f"http://127.0.0.1:{port}",
                 "token": "x"}  # fmt: skip
        (data / OWNER_FILE).write_text(json.dumps(owner))
        proc = run_linkgraph("sql", "--data-dir", str(data), "SELECT 1", check=False)
    finally:
        sleeper.kill()
        sleeper.wait()
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1
    assert proc.stderr.startswith(
        f"linkgraph: error: the index is held by a running `linkgraph crawl` (pid {sleeper.pid}"
    )
    assert "does not answer" in proc.stderr


def test_queries_through_the_owner_are_read_only(tmp_path: Path) -> None:
    data = tmp_path / "data"
    run_linkgraph("sql", "--data-dir", str(data), "--write", INSERT)
    with silent_crawl(data, tmp_path):
        refused = run_linkgraph("sql", "--data-dir", str(data), INSERT, check=False)
        write = run_linkgraph("sql", "--data-dir", str(data), "--write", INSERT, check=False)
        several = run_linkgraph("sql", "--data-dir", str(data), "SELECT 1; SELECT 2", check=False)
        second = run_linkgraph("crawl", "http://a.test/", "--data-dir", str(data), check=False)
        rank = run_linkgraph("rank", "--data-dir", str(data), check=False)  # not forwarded
    for proc in (refused, write, several, second, rank):
        assert proc.returncode == 2 and proc.stdout == "" and proc.stderr.count("\n") == 1
    assert refused.stderr.startswith("linkgraph: error: query failed: ")
    assert "readonly mode" in refused.stderr
    assert "answers reads only" in write.stderr
    assert "several statements" in several.stderr
    assert "held by a running `linkgraph crawl`" in second.stderr
    assert rank.stderr.startswith(f"linkgraph: error: the index at {data} is held by a running ")
    assert query(data, "SELECT count() FROM pages WHERE job = 'manual'")[0][0] == 1


def test_crawl_on_a_service_data_dir_submits_the_job(tmp_path: Path) -> None:
    web = build_test_web()
    data, hosts = tmp_path / "data", tmp_path / "hosts"
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    serve = subprocess.Popen(
        [*LINKGRAPH, "serve", "--data-dir", str(data), "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT,
    )  # fmt: skip
    try:
        with LocalWebServer(web) as server:
            write_hosts_file(hosts, web.hosts())
            wait_for_owner(data, serve)
            owner = find_owner(data)
            assert owner is not None and (owner.kind, owner.pid) == ("service", serve.pid)
            proc = run_linkgraph(
                "crawl", *web.seeds(server.port), "--job", "handed", "--data-dir", str(data),
                "--hosts-file", str(hosts), "--allow-private", "--workers", "1", "-q",
            )  # fmt: skip
            assert proc.stdout == ""
            assert proc.stderr == (
                f"job handed submitted to `linkgraph serve` (pid {serve.pid}, {owner.url}); "
                f"follow it with `linkgraph status handed --data-dir {data}` or "
                f"{owner.url}/api/jobs/handed\n"
            )
            sql = "SELECT count() FROM pages WHERE job = 'handed'"
            deadline = time.monotonic() + WAIT
            while (pages := int(run_linkgraph("sql", "--data-dir", str(data), sql).stdout)) == 0:
                assert time.monotonic() < deadline, "the service never crawled the job"
            assert pages > 0  # the service runs it, and answers `sql` meanwhile
    finally:
        end(serve)
    assert serve.returncode == 0
    assert not (data / OWNER_FILE).exists()


def get(url: str, token: str | None) -> tuple[int, str, bytes]:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers)) as answer:
            return answer.status, answer.headers["Content-Type"], answer.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.headers["Content-Type"], exc.read()


def test_the_read_api_of_a_crawl(tmp_path: Path) -> None:
    data = tmp_path / "data"
    run_linkgraph("sql", "--data-dir", str(data), "--write", INSERT)
    with silent_crawl(data, tmp_path):
        owner = find_owner(data)
        assert owner is not None
        sql = owner.url + "/api/sql?" + urllib.parse.urlencode(
            {"query": "SELECT url, {tag:String} AS tag FROM pages WHERE job = {job:String}",
             "param_job": "manual", "param_tag": "it's\\ta", "format": "TSV"}
        )  # fmt: skip
        assert get(sql, None)[0] == 401
        assert get(sql, "not-the-token")[0] == 401
        assert get(sql, owner.token) == (
            200, "text/tab-separated-values", b"http://a.test/\tit\\'s\\ta\n"
        )  # fmt: skip
        status, kind, body = get(owner.url + "/api/reports/top?limit=3", owner.token)
        assert (status, kind) == (200, "application/json")
        answer = json.loads(body)
        assert (answer["data"], answer["rows"]) == ([], 0)
        top = REPORTS["top"].query
        assert top is not None and [c["name"] for c in answer["meta"]] == list(top.columns)
        for path, code, error in (
            ("/api/sql?query=SELECT+1%3B+SELECT+2", 400, "the query holds several statements"),
            ("/api/sql?query=DROP+TABLE+pages", 400, "query failed: "),
            ("/api/reports/top?limit=x", 400, "--limit "),
            ("/api/reports/backlinks", 400, "TARGET is required"),
            ("/api/reports/nope", 404, "no report named 'nope'"),
        ):
            status, kind, body = get(owner.url + path, owner.token)
            assert (status, kind) == (code, "application/json; charset=utf-8"), path
            assert json.loads(body)["error"].startswith(error), (path, body)
            assert b"\n" not in body
    assert query(data, "SELECT count() FROM pages")[0][0] == 1
