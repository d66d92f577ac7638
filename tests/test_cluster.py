"""Crawls on Redis Cluster: the test web crawled through the real CLI with `--redis` naming one
node of a real Valkey cluster (3 masters, a replica each; tests/cluster.py), and, to compare,
on a standalone Valkey. The index ends equal to the ground truth, each page fetched as often as
expected, each host polite; a failover mid-crawl changes none of it; and a frontier error stops
the crawl with one line, recording nothing of it."""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path

import pytest
import redis

from crawler import jobs
from crawler.demo.server import LocalWebServer, RequestLog
from crawler.errors import UsageError
from crawler.frontier import Frontier
from crawler.frontier.connection import connect
from crawler.frontier.keys import JobKeys
from crawler.processes.valkey import EmbeddedValkey
from tests.cluster import Node, ValkeyCluster
from tests.conftest import ROOT, page_fetches, query, run_cli
from tests.test_workers import (
    CLOCK_SLACK,
    assert_index_complete,
    crawl_cmd,
    finish,
    start,
    wait_for,
)
from tests.testweb import TestWeb

# Seconds a crawl waits for its Redis: a failover takes about two node timeouts (tests/cluster.py)
REDIS_TIMEOUT = ("-s", "LINKGRAPH_REDIS_TIMEOUT=120")


@pytest.fixture(params=["standalone", "cluster"])
def redis_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL of an empty Valkey: a standalone server, or one node of the cluster."""
    if request.param == "cluster":
        request.getfixturevalue("cluster_redis")  # empties the session's cluster
        yield request.getfixturevalue("valkey_cluster").url
        return
    with EmbeddedValkey(tmp_path / "valkey") as server:
        yield server.url


def assert_polite(log: list[RequestLog], web: TestWeb, delay: float) -> None:
    """One request in flight per host across workers, and the delay held between two."""
    by_host: dict[str, list[RequestLog]] = {}
    for entry in sorted(log, key=lambda e: e.started):
        by_host.setdefault(entry.host, []).append(entry)
    for host, entries in by_host.items():
        wanted = max(delay, web.crawl_delays().get(host, 0.0))
        for before, after in pairwise(entries):
            assert after.started - before.finished >= wanted - CLOCK_SLACK, (host, after.path)


def test_two_workers_crawl_the_test_web_exactly(
    web: TestWeb, served: tuple[LocalWebServer, Path], tmp_path: Path, redis_url: str
) -> None:
    server, hosts_file = served
    data = tmp_path / "data"
    delay = 0.1
    cmd = crawl_cmd(data, hosts_file, "--job", "shared", "--workers", "2", "--delay", str(delay),
                    "--redis", redis_url, *REDIS_TIMEOUT, *web.seeds(server.port))  # fmt: skip
    finish(start(cmd))
    assert_index_complete(data, web, server.port)
    assert page_fetches(server, web) == web.expected_fetches()  # once; a 5xx 1 + 3 times
    assert_polite(server.requests(), web, delay)
    # the job's commands read and steer it on either server
    pages = len(web.expected_pages(server.port))
    status, out, err = run_cli("status", "shared", "--json", "--redis", redis_url)
    assert status == 0, err
    figures = json.loads(out)
    assert (figures["done"], figures["queued"], figures["in_flight"]) == (pages, 0, 0)
    client = connect(redis_url)
    assert run_cli("pause", "shared", "--redis", redis_url)[0] == 0
    assert jobs.state(client, "shared") == jobs.PAUSED
    assert run_cli("resume", "shared", "--redis", redis_url)[0] == 0
    assert jobs.state(client, "shared") == jobs.RUNNING
    status, out, err = run_cli("jobs", "--redis", redis_url)
    assert status == 0 and [line for line in out.splitlines() if line.startswith("shared ")], err


def test_a_partitioned_job_spreads_over_the_masters_and_stays_exact(
    web: TestWeb,
    served: tuple[LocalWebServer, Path],
    tmp_path: Path,
    valkey_cluster: ValkeyCluster,
    cluster_redis: redis.Redis,
) -> None:
    """A frontier in 4 partitions ({job:p} hash tags) lives on every master of the cluster, and
    the crawl stays exact."""
    server, hosts_file = served
    data = tmp_path / "data"
    cmd = crawl_cmd(data, hosts_file, "--job", "spread", "--workers", "2", "--delay", "0.1",
                    "--redis", valkey_cluster.url, "-s", "LINKGRAPH_FRONTIER_PARTITIONS=4",
                    *REDIS_TIMEOUT, *web.seeds(server.port))  # fmt: skip
    finish(start(cmd))
    assert_index_complete(data, web, server.port)
    assert page_fetches(server, web) == web.expected_fetches()
    seen = [keys.seen for keys in JobKeys("spread").partitions(4)]
    assert all(cluster_redis.exists(key) for key in seen)
    holders = {valkey_cluster.master_of(key).port for key in seen}
    assert len(holders) == 3


def await_replica(master: Node, replica: Node) -> None:
    """Hold the master's writers (CLIENT PAUSE WRITE) until its replica has all it wrote."""
    master.client.execute_command("CLIENT", "PAUSE", 60_000, "WRITE")

    def caught_up() -> bool:
        offset = master.info("replication")["master_repl_offset"]
        return replica.info("replication").get("slave_repl_offset") == offset

    wait_for(caught_up, timeout=10)


def test_a_failover_mid_crawl_still_ends_exact(
    web: TestWeb, served: tuple[LocalWebServer, Path], tmp_path: Path, own_cluster: ValkeyCluster
) -> None:
    """SIGKILL of the master holding the job's slot, the very node the crawl was given: its
    replica takes over, every process finds it through the other nodes, and the crawl ends as if
    nothing happened. The master is killed once its replica has caught up: replication is
    asynchronous, and writes a master acknowledged but had not yet sent are lost whatever the
    client does (README: Redis Cluster)."""
    server, hosts_file = served
    data = tmp_path / "data"
    job_slot = JobKeys("failover").seen
    master = own_cluster.master_of(job_slot)
    replica = own_cluster.replica_of(master)
    cmd = crawl_cmd(data, hosts_file, "--job", "failover", "--workers", "2", "--delay", "0.5",
                    "--redis", master.url, *REDIS_TIMEOUT)  # fmt: skip
    proc = start([*cmd, *web.seeds(server.port)])
    frontier = Frontier(connect(master.url), "failover")
    wait_for(lambda: frontier.live_workers() == 2 and len(server.requests()) >= 25)
    await_replica(master, replica)
    own_cluster.kill(master)
    killed_at = len(server.requests())
    stderr = finish(proc)
    assert own_cluster.master_of(job_slot).port == replica.port  # it took over
    assert len(server.requests()) > killed_at  # the crawl went on after the failover
    assert not re.search(r"\] ERROR|linkgraph: error|Traceback", stderr), stderr
    assert_index_complete(data, web, server.port)
    assert page_fetches(server, web) == web.expected_fetches()


def test_a_cluster_gone_for_longer_than_the_timeout_ends_the_crawl_in_one_line(
    web: TestWeb, served: tuple[LocalWebServer, Path], tmp_path: Path, own_cluster: ValkeyCluster
) -> None:
    """Every node killed: each process waits out LINKGRAPH_REDIS_TIMEOUT, as for a standalone
    server, then says so in one line."""
    server, hosts_file = served
    url = own_cluster.url
    cmd = crawl_cmd(tmp_path / "data", hosts_file, "--job", "gone", "--workers", "2", "--delay",
                    "0.5", "--redis", url, "-s", "LINKGRAPH_REDIS_TIMEOUT=5")  # fmt: skip
    proc = start([*cmd, *web.seeds(server.port)])
    frontier = Frontier(connect(url), "gone")
    wait_for(lambda: frontier.live_workers() == 2 and len(server.requests()) >= 10)
    for node in own_cluster.nodes:
        own_cluster.kill(node)
    try:
        _out, err = proc.communicate(timeout=90)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise AssertionError("the crawl hung without its Redis") from None
    assert proc.returncode == 1, err
    lines = err.strip().splitlines()
    said = f"linkgraph: error: Redis at {url} unreachable for 5 s; resume with linkgraph "
    assert lines[-1] == said + "crawl --job gone", err
    assert lines[:-1].count(said + "worker --job gone") == 1, err  # the worker's
    assert "Traceback" not in err and "ERROR" not in err, err


def test_a_frontier_error_stops_the_crawl_with_one_line_and_records_nothing(
    web: TestWeb, served: tuple[LocalWebServer, Path], tmp_path: Path, redis_url: str
) -> None:
    """A key of the wrong type in the job's keyspace: the script that ends a host's request
    (RELEASE) fails with WRONGTYPE. The worker stops, exits 1 with one line, and records no
    page for it; with the key mended the job resumes and ends exact."""
    server, hosts_file = served
    data = tmp_path / "data"
    client = connect(redis_url)
    failures = JobKeys("wrongtype").failures
    cmd = crawl_cmd(data, hosts_file, "--job", "wrongtype", "--workers", "1", "--delay", "0.5",
                    "--redis", redis_url, *REDIS_TIMEOUT)  # fmt: skip
    proc = subprocess.Popen([*cmd, *web.seeds(server.port)], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    wait_for(lambda: len(server.requests()) >= 10)
    client.delete(failures)
    client.set(failures, "not a hash")
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 1, stderr
    lines = stderr.splitlines()
    errors = [line for line in lines if "frontier error" in line]
    assert len(errors) == 1 and "WRONGTYPE" in errors[0], stderr
    assert any(line.startswith("job wrongtype: frontier_error;") for line in lines), stderr
    assert len(re.findall(r"\[crawler\.[\w.]+\] ERROR", stderr)) == 1, stderr
    # every row is a page as it is: none carries the error, none is recorded twice
    rows = query(data, "SELECT url, status, error FROM pages")
    expected = web.expected_pages(server.port)
    assert rows and all(expected[url] == status for url, status, _ in rows)
    assert not [url for url, _, error in rows if "WRONGTYPE" in error]
    assert len(rows) == len({url for url, _, _ in rows}) < len(expected)
    # the page in hand kept its lease: the resume hands it out again
    assert client.hlen(JobKeys("wrongtype").leases) >= 1
    client.delete(failures)
    time.sleep(0.1)
    finish(start(cmd))
    assert_index_complete(data, web, server.port)
    assert set(page_fetches(server, web)) == web.expected_requests()


def test_a_database_other_than_0_on_a_cluster_is_one_line(valkey_cluster: ValkeyCluster) -> None:
    url = valkey_cluster.url.replace("/0", "/3")
    with pytest.raises(UsageError) as caught:
        connect(url)
    assert str(caught.value) == f"cannot use Redis at {url}: SELECT is not allowed in cluster mode"
    with pytest.raises(UsageError) as caught:
        connect(url, check=False)
    assert str(caught.value).startswith(f"cannot use Redis at {url}: ")


def test_the_frontier_client_follows_the_server(
    valkey_cluster: ValkeyCluster, redis_server: str
) -> None:
    """A cluster node gets a cluster client, which reaches keys on every master; a standalone
    server gets a plain client."""
    cluster = connect(valkey_cluster.url)
    masters = {n: f"{{k{n}}}" for n in range(40)}  # keys in 40 slots
    for key in masters.values():
        cluster.set(key, "v")
    assert len({valkey_cluster.master_of(key).port for key in masters.values()}) == 3
    assert all(cluster.get(key) == b"v" for key in masters.values())
    cluster.delete(*masters.values())
    assert type(connect(redis_server)) is redis.Redis
