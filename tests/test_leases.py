"""Leases belong to workers, and a worker's failures stay its own: a dead worker's leases come
back as soon as its heartbeat lapses, a heartbeat outlives a Redis error, and a frontier error
stops the crawl instead of becoming page data. Real Valkey, real processes, the test web."""

from __future__ import annotations

import logging
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

from crawler.demo.server import LocalWebServer
from crawler.frontier import Entry, Frontier, fingerprint
from crawler.frontier.heartbeat import Heartbeat
from crawler.frontier.reaping import POISON_AFTER, WORKER_TIMEOUT
from crawler.processes.valkey import EmbeddedValkey
from tests.conftest import ROOT, page_fetches, query
from tests.test_workers import assert_index_complete, crawl_cmd, wait_for
from tests.testweb import TestWeb

A1, A2, B1 = "http://a.com/1", "http://a.com/2", "http://b.com/1"
# The tests of the frontier alone run on a standalone Valkey, then on the cluster.
pytestmark = pytest.mark.cluster_too


@pytest.fixture(params=[1, 4], ids=["P=1", "P=4"])
def partitions(request: pytest.FixtureRequest) -> int:
    """The frontier's lease tests run on a job of one partition, and of four."""
    return int(request.param)


def lapse(client: redis.Redis, f: Frontier, worker: str) -> None:
    """`worker`'s last heartbeat was longer ago than the timeout, as when it died then (in
    every partition's copy of the beats)."""
    for partition in f.partitions.all:
        client.zadd(partition.keys.workers, {worker: time.time() - WORKER_TIMEOUT - 1})


def test_a_dead_workers_leases_come_back_at_once_and_count_against_unfinished_pages(
    redis_client: redis.Redis, partitions: int
) -> None:
    f = Frontier(redis_client, "owned", delay=0, partitions=partitions)  # the default 300 s lease
    f.add([(A1, 0), (B1, 0)])
    f.heartbeat("dead")
    f.heartbeat("alive")
    assert {e.url for e in f.pop(2, "dead").entries} == {A1, B1}
    f.add([("http://c.com/1", 0)])
    assert [e.url for e in f.pop(1, "alive").entries] == ["http://c.com/1"]
    f.mark_done("dead", [fingerprint(B1)])  # parsed; only its rows were not stored yet
    assert f.reap() == 0  # every heartbeat is recent
    lapse(redis_client, f, "dead")
    assert f.reap() == 2
    assert f.stats()["leased"] == 1 and f.queued() == 2 and f.live_workers() == 1
    lost = redis_client.hgetall(f.keys_for("a.com").lost_leases)
    assert lost == {fingerprint(A1).encode(): b"1"}  # B1 did not kill its worker
    for partition in f.partitions.all:
        assert redis_client.zrange(partition.keys.workers, 0, -1) == [b"alive"]


def test_a_page_lost_three_times_is_poison_and_never_handed_out_again(
    redis_client: redis.Redis, partitions: int
) -> None:
    f = Frontier(redis_client, "poisoned", delay=0, partitions=partitions)
    f.add([(A1, 0), (A2, 0)])
    for death in range(POISON_AFTER):
        worker = f"w{death}"
        f.heartbeat(worker)
        assert [e.url for e in f.pop(1, worker).entries] == [A1]
        lapse(redis_client, f, worker)
        assert f.reap() == 1
    assert f.take_poisoned("w9", 10) == [(Entry.new(A1, 0), POISON_AFTER)]
    # never fetched again: the host's next page is A2
    assert [e.url for e in f.pop(1, "w9").entries] == [A2]
    assert f.take_poisoned("w9", 10) == []
    assert f.stats()["leased"] == 2  # A1 to be recorded as poison, A2 to be fetched


def test_the_heartbeat_outlives_a_redis_error(
    own_redis: EmbeddedValkey, caplog: pytest.LogCaptureFixture
) -> None:
    client = redis.Redis.from_url(own_redis.url)
    f = Frontier(client, "beats")
    heartbeat = Heartbeat(f, "w1", interval=0.1)
    heartbeat.start()
    try:
        # Valkey out of memory: every write is refused, a beat too (a real error, not a timeout)
        client.config_set("maxmemory", 1)
        with caplog.at_level(logging.ERROR, logger="crawler.frontier.heartbeat"):
            wait_for(lambda: "OutOfMemoryError" in caplog.text or "OOM" in caplog.text)
        failed_at = time.time()
        client.config_set("maxmemory", 0)
        wait_for(lambda: (client.zscore(f.keys.workers, "w1") or 0) > failed_at)
    finally:
        client.config_set("maxmemory", 0)
        heartbeat.stop()
    line = next(r for r in caplog.records if r.name == "crawler.frontier.heartbeat")
    assert line.getMessage().startswith("heartbeat of w1 failed (")
    assert "\n" not in line.getMessage() and line.exc_info is None


def test_a_frontier_error_stops_the_crawl_and_records_nothing(
    web: TestWeb, served: tuple[LocalWebServer, Path], tmp_path: Path, own_redis: EmbeddedValkey
) -> None:
    server, hosts_file = served
    data = tmp_path / "data"
    client = redis.Redis.from_url(own_redis.url)
    cmd = crawl_cmd(data, hosts_file, "--job", "acl", "--workers", "1", "--delay", "0.5",
                    "--redis", own_redis.url)  # fmt: skip
    proc = subprocess.Popen([*cmd, *web.seeds(server.port)], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    wait_for(lambda: len(server.requests()) >= 10)
    # An operator's ACL change takes the frontier's scripts away: every script call fails
    client.execute_command("ACL", "SETUSER", "default", "-@scripting")
    try:
        _, stderr = proc.communicate(timeout=120)
    finally:
        client.execute_command("ACL", "SETUSER", "default", "+@all")
    assert proc.returncode == 1
    lines = stderr.splitlines()
    errors = [line for line in lines if "frontier error" in line]
    assert len(errors) == 1 and "NoPermissionError" in errors[0], stderr
    assert any(line.startswith("job acl: frontier_error;") for line in lines), stderr
    # the worker said it once (the index's own report of the failed acknowledgements aside)
    assert len(re.findall(r"\[crawler\.[\w.]+\] ERROR", stderr)) == 1, stderr
    # nothing of the error reached the index: every row is a page as it is
    rows = query(data, "SELECT url, status FROM pages")
    expected = web.expected_pages(server.port)
    assert rows and all(expected[url] == status for url, status in rows)
    assert len(rows) == len(dict(rows)) < len(expected)
    # resumed with its scripts back, the job ends exact
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr
    assert_index_complete(data, web, server.port)
    assert set(page_fetches(server, web)) == web.expected_requests()


PROGRESS_SCRIPT = """
import logging, sys
import redis
from scrapy.crawler import Crawler
from scrapy.settings import Settings
from crawler.progress import Progress
from crawler.spiders.links import LinkSpider

logging.basicConfig(level=logging.WARNING, format="%(name)s %(levelname)s: %(message)s")
settings = Settings()
settings.setmodule("crawler.settings")
settings.update({"REDIS_URL": sys.argv[1], "LINKGRAPH_JOB": "progress",
                 "LINKGRAPH_PROGRESS_SECONDS": 0.1})
crawler = Crawler(LinkSpider, settings, init_reactor=True)
crawler.spider = crawler._create_spider()  # as Crawler.crawl does first
crawler._apply_settings()  # installs the reactor the settings name
from twisted.internet import reactor
progress = Progress.from_crawler(crawler)
admin = redis.Redis.from_url(sys.argv[1])
from crawler import jobs
from crawler.jobspec import JobSpec
jobs.save(admin, JobSpec(job="progress"))  # progress lines show a saved job's figures
progress.opened()
# the frontier's counters cannot be read for a second: every progress line fails meanwhile
reactor.callLater(1.0, admin.execute_command, "ACL", "SETUSER", "default", "-hgetall")
reactor.callLater(2.0, admin.execute_command, "ACL", "SETUSER", "default", "+@all")
reactor.callLater(3.0, reactor.stop)
reactor.run()
"""


def test_the_progress_loop_outlives_its_errors(own_redis: EmbeddedValkey) -> None:
    proc = subprocess.run([sys.executable, "-c", PROGRESS_SCRIPT, own_redis.url], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=True)  # fmt: skip
    lines = proc.stderr.splitlines()
    kinds = ["line" if line.startswith("[progress] ") else line for line in lines]
    skipped = "crawler.progress WARNING: progress line skipped (NoPermissionError: "
    assert all(k == "line" or k.startswith(skipped) for k in kinds), proc.stderr
    first, last = kinds.index(next(k for k in kinds if k != "line")), len(kinds) - 1
    while kinds[last] == "line":
        last -= 1
    # lines, then one warning line per failed tick, then lines again: the loop carried on
    assert kinds[:first] and all(k == "line" for k in kinds[:first])
    assert all(k != "line" for k in kinds[first : last + 1]) and kinds[last + 1 :]
