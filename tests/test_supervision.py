"""Dead servers: the embedded Valkey killed mid-crawl is restarted from its append-only file and
the crawl carries on; an external Redis gone for longer than LINKGRAPH_REDIS_TIMEOUT ends the
crawl and its workers with one line, and a resume once it is back ends exact. Real processes,
real Valkey and chDB, the test web."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import redis

from crawler.demo.server import LocalWebServer
from crawler.frontier.keys import JobKeys
from crawler.processes.valkey import EmbeddedValkey
from tests.conftest import page_fetches
from tests.test_signals import embedded_valkey_pid
from tests.test_workers import (
    assert_index_complete,
    crawl_cmd,
    finish,
    start,
    wait_for,
    worker_pids,
)
from tests.testweb import TestWeb


def test_a_killed_embedded_valkey_is_restarted_and_the_crawl_ends_exact(
    web: TestWeb, served: tuple[LocalWebServer, Path], tmp_path: Path
) -> None:
    server, hosts_file = served
    data = tmp_path / "data"
    proc = start(crawl_cmd(data, hosts_file, "--job", "kv", "--workers", "3", "--delay", "0.5",
                           *web.seeds(server.port)))  # fmt: skip
    wait_for(lambda: len(worker_pids(proc.pid)) == 2 and len(server.requests()) >= 25)
    killed = embedded_valkey_pid(data)
    os.kill(killed, signal.SIGKILL)
    wait_for(lambda: embedded_valkey_pid(data) != killed, timeout=20)  # restarted
    err = finish(proc)
    assert "the embedded Valkey server is back" in err
    assert_index_complete(data, web, server.port)
    # a killed server loses nothing it acknowledged: not a lease, not a queued link
    assert page_fetches(server, web) == web.expected_fetches()  # once; a 5xx 1 + 3 times


def test_an_external_redis_gone_for_longer_than_the_timeout_ends_the_crawl_in_one_line(
    web: TestWeb,
    served: tuple[LocalWebServer, Path],
    tmp_path: Path,
    own_redis: EmbeddedValkey,
) -> None:
    server, hosts_file = served
    data = tmp_path / "data"
    url = own_redis.url
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    cmd = crawl_cmd(data, hosts_file, "--job", "gone", "--workers", "3", "--delay", "0.5",
                    "--redis", url, "-s", "LINKGRAPH_REDIS_TIMEOUT=5")  # fmt: skip
    proc = start([*cmd, *web.seeds(server.port)])
    beats = redis.Redis.from_url(url)  # the workers are crawling once their heartbeats are in
    wait_for(lambda: len(worker_pids(proc.pid)) == 2 and len(server.requests()) >= 25
             and beats.zcard(JobKeys("gone").workers) == 3)  # fmt: skip
    workers = worker_pids(proc.pid)
    own_redis.stop()
    try:
        _out, err = proc.communicate(timeout=90)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise AssertionError("the crawl hung without its Redis") from None
    assert proc.returncode == 1, err
    lines = err.strip().splitlines()
    assert lines[-1] == (
        f"linkgraph: error: Redis at {url} unreachable for 5 s; resume with linkgraph crawl "
        "--job gone"
    ), err
    # each worker said the same, once, and nothing else was printed: no traceback
    worker_line = (f"linkgraph: error: Redis at {url} unreachable for 5 s; resume with "
                   "linkgraph worker --job gone")  # fmt: skip
    assert lines[:-1].count(worker_line) == len(workers) == 2, err
    assert "Traceback" not in err
    assert not [pid for pid in workers if Path(f"/proc/{pid}").exists()]
    fetched_before = set(page_fetches(server, web))
    assert 0 < len(fetched_before) < len(web.expected_requests())

    own_redis.start(port=port)  # back, with its append-only file
    finish(start(cmd))  # resume
    assert_index_complete(data, web, server.port)
    assert set(page_fetches(server, web)) == web.expected_requests()
