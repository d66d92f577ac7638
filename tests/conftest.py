"""Fixtures: a real Valkey server, the test web on 127.0.0.1, and crawls through the real CLI.

A crawl runs as a `linkgraph crawl` subprocess (Twisted's reactor cannot restart inside one
process); its index is then read here with chDB, which the finished crawl no longer holds.
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis

from crawler.demo.server import LocalWebServer, RequestLog, write_hosts_file
from crawler.processes.valkey import EmbeddedValkey
from crawler.storage import StorageTarget, connect
from tests.testweb import TestWeb, build_test_web

pytest_plugins = ["tests.cluster"]  # the Valkey cluster's fixtures, and the `cluster_too` mark

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
LINKGRAPH = [sys.executable, "-m", "crawler.cli.main"]
# Seconds before a 5xx page of the test web is fetched again (then twice as long, and so on).
RETRY_BACKOFF = 0.2
# Given to every first crawl of the test web: its /broken page (500) is retried 3 times, which
# the default back-off of 5 s would stretch by half a minute. A resume keeps the saved value.
SHORT_BACKOFF = ("-s", f"LINKGRAPH_RETRY_BACKOFF={RETRY_BACKOFF}")


def skip_without_oracle(path: Path) -> None:
    """The oracles live in ../shared beside the project root; CI always has them."""
    if not path.is_file():
        pytest.skip(
            f"oracle {path} not found (it lives in ../shared beside the project root)",
            allow_module_level=True,
        )


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Valkey server on loopback for the whole session (the bundled binary)."""
    server = EmbeddedValkey(tmp_path_factory.mktemp("valkey"))
    yield server.start()
    server.stop()


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[EmbeddedValkey]:
    """A Valkey server of this test only, which the test may stop, restart or reconfigure."""
    server = EmbeddedValkey(tmp_path / "valkey")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis_client(redis_kind: str, request: pytest.FixtureRequest) -> Iterator[redis.Redis]:
    if redis_kind == "cluster":  # the frontier's own client of the cluster (tests/cluster.py)
        yield request.getfixturevalue("cluster_redis")
        return
    client = redis.Redis.from_url(request.getfixturevalue("redis_server"))
    client.flushdb()
    yield client
    client.close()


def run_linkgraph(
    *args: str, timeout: float = 300, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run the real `linkgraph` command line; returns its completed process."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.run(
        [*LINKGRAPH, *args], capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"linkgraph {' '.join(args)} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
        )
    return proc


def run_cli(*args: str) -> tuple[int, str, str]:
    """Run the `linkgraph` command line in this process (fast: no interpreter start-up);
    returns (exit status, stdout, stderr). A command drops the clients it opened, which frees
    the embedded index for the next process."""
    from crawler.cli.main import main

    out, err = io.BytesIO(), io.StringIO()
    stdout = io.TextIOWrapper(out, encoding="utf-8", write_through=True)
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(err):
        try:
            status = main(list(args))
        except SystemExit as exc:  # argparse rejects an argument
            status = int(exc.code or 0)
        stdout.flush()
    return status, out.getvalue().decode(), err.getvalue()


def query(data_dir: Path, sql: str) -> list[tuple[Any, ...]]:
    """Rows of a query against the chDB index in `data_dir` (opened, read, released)."""
    client = connect(StorageTarget("", data_dir))
    try:
        return [tuple(row) for row in client.query(sql).result_rows]
    finally:
        client.close()


@dataclass(frozen=True)
class CrawledWeb:
    """The test web crawled once through the CLI, with what its server saw."""

    web: TestWeb
    port: int
    data_dir: Path
    hosts_file: Path
    log: list[RequestLog]
    stderr: str


def crawl_test_web(tmp: Path, job: str, delay: float) -> CrawledWeb:
    web = build_test_web()
    hosts_file = tmp / "hosts"
    with LocalWebServer(web) as server:
        write_hosts_file(hosts_file, web.hosts())
        proc = run_linkgraph(
            "crawl", *web.seeds(server.port), "--job", job, "--data-dir", str(tmp / "data"),
            "--hosts-file", str(hosts_file), "--allow-private", "--delay", str(delay), "-q",
            *SHORT_BACKOFF,
        )  # fmt: skip
        log = server.requests()
    return CrawledWeb(web, server.port, tmp / "data", hosts_file, log, proc.stderr)


IndexedWeb = CrawledWeb


@pytest.fixture(scope="session")
def indexed_web(tmp_path_factory: pytest.TempPathFactory) -> IndexedWeb:
    """The test web crawled once (job `v1`, no delay) for the link-index tests to read."""
    return crawl_test_web(tmp_path_factory.mktemp("indexed"), "v1", 0)


@pytest.fixture(scope="module")
def web() -> TestWeb:
    return build_test_web()


@pytest.fixture
def served(web: TestWeb, tmp_path: Path) -> Iterator[tuple[LocalWebServer, Path]]:
    """The test web on 127.0.0.1, and a hosts file that sends its names there."""
    hosts_file = tmp_path / "hosts"
    with LocalWebServer(web) as server:
        write_hosts_file(hosts_file, web.hosts())
        yield server, hosts_file


def page_fetches(server: LocalWebServer, web: TestWeb) -> Counter[tuple[str, str]]:
    """How often the server saw each page (robots.txt fetches left out)."""
    robots = web.robots_paths()
    return Counter((e.host, e.path) for e in server.requests() if (e.host, e.path) not in robots)
