"""Many workers, one frontier: politeness across processes, and nothing lost when a worker is
killed, a crawl is interrupted, or Redis restarts. Real processes, real Valkey, the test web."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator

from crawler.demo.server import LocalWebServer, RequestLog
from crawler.processes.valkey import EmbeddedValkey
from tests.conftest import LINKGRAPH, ROOT, SHORT_BACKOFF, page_fetches, query, run_linkgraph
from tests.testweb import TestWeb

CLOCK_SLACK = 0.01


def crawl_cmd(data: Path, hosts_file: Path, *extra: str) -> list[str]:
    return [
        *LINKGRAPH,
        "crawl",
        "--data-dir",
        str(data),
        "--hosts-file",
        str(hosts_file),
        "--allow-private",
        "-q",
        *SHORT_BACKOFF,
        *extra,
    ]


def start(cmd: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def finish(proc: subprocess.Popen[str], timeout: float = 240) -> str:
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, f"exit {proc.returncode}\n{out}\n{err}"
    return err


def wait_for(condition: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def assert_index_complete(data: Path, web: TestWeb, port: int) -> None:
    rows = query(data, "SELECT url, status FROM pages")
    assert len(rows) == len(dict(rows)), "a page was recorded twice"
    assert dict(rows) == web.expected_pages(port)
    backlinks = query(data, "SELECT src_url, dst_url, follow, anchor FROM backlinks")
    assert {(s, d, bool(f), a) for s, d, f, a in backlinks} == web.expected_backlinks(port)


def quiet_for(server: LocalWebServer, seconds: float) -> bool:
    before = len(server.requests())
    time.sleep(seconds)
    return len(server.requests()) == before


def worker_pids(parent: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if int(fields[1]) == parent and b"worker" in cmdline:
            pids.append(int(entry.name))
    return pids


def archived_pages(path: Path) -> set[str]:
    """URLs of the pages a WARC file holds a fetch of (robots.txt fetches left out)."""
    return {
        r.rec_headers.get_header("WARC-Target-URI")
        for r in ArchiveIterator(path.open("rb"))
        if r.rec_type in ("response", "revisit")
        and not r.rec_headers.get_header("WARC-Linkgraph-Prerequisite")
    }


def test_three_workers_share_the_work_and_keep_every_host_polite(
    web: TestWeb, served: tuple[LocalWebServer, Path], tmp_path: Path
) -> None:
    server, hosts_file = served
    data, warc = tmp_path / "data", tmp_path / "warc"
    delay = 0.2
    finish(
        start(
            crawl_cmd(
                data,
                hosts_file,
                "--workers",
                "3",
                "--delay",
                str(delay),
                "--warc",
                str(warc),
                *web.seeds(server.port),
            )
        )
    )
    assert_index_complete(data, web, server.port)
    assert page_fetches(server, web) == web.expected_fetches()  # once; a 5xx 1 + 3 times
    # every process archived what it fetched: more than one of them did work
    per_process = [archived_pages(p) for p in warc.glob("*.warc.gz")]
    assert len(set().union(*per_process)) == len(web.expected_requests())
    assert sum(1 for pages in per_process if pages) >= 2
    crawl_delays = web.crawl_delays()
    by_host: dict[str, list[RequestLog]] = {}
    for entry in sorted(server.requests(), key=lambda e: e.started):
        by_host.setdefault(entry.host, []).append(entry)
    for host, entries in by_host.items():
        wanted = max(delay, crawl_delays.get(host, 0.0))
        for before, after in pairwise(entries):
            # after.started >= before.finished: one request in flight per host, across workers
            assert after.started - before.finished >= wanted - CLOCK_SLACK, (host, after.path)


def test_a_killed_worker_loses_nothing_and_its_leases_come_back_at_once(
    web: TestWeb, served: tuple[LocalWebServer, Path], tmp_path: Path, own_redis: EmbeddedValkey
) -> None:
    server, hosts_file = served
    data = tmp_path / "data"
    # the default lease (300 s): the dead worker's heartbeat lapsing is what returns its leases
    proc = start(crawl_cmd(data, hosts_file, "--workers", "3", "--delay", "0.5",
                           "--redis", own_redis.url, *web.seeds(server.port)))  # fmt: skip
    wait_for(lambda: len(worker_pids(proc.pid)) == 2 and len(server.requests()) >= 25)
    victim = worker_pids(proc.pid)[0]
    os.kill(victim, signal.SIGKILL)
    finish(proc)
    ended = time.monotonic()
    assert_index_complete(data, web, server.port)
    fetches = page_fetches(server, web)
    assert set(fetches) == web.expected_requests()
    # only what the dead worker held (fetched, not yet recorded) could be fetched again
    assert sum(n - web.expected_fetches()[k] for k, n in fetches.items()) <= 64
    # its hosts did not wait for the 300 s lease: no pause in the crawl reached a minute, and
    # the job ended within a minute of its last page
    started = sorted(e.started for e in server.requests())
    assert max(b - a for a, b in pairwise(started)) < 60
    assert ended - max(e.finished for e in server.requests()) < 60


def test_interrupted_crawl_resumes_without_fetching_twice(
    web: TestWeb, served: tuple[LocalWebServer, Path], tmp_path: Path
) -> None:
    server, hosts_file = served
    data = tmp_path / "data"
    cmd = crawl_cmd(data, hosts_file, "--job", "sigint", "--workers", "2", "--delay", "0.5")
    proc = start([*cmd, *web.seeds(server.port)])
    wait_for(lambda: len(server.requests()) >= 30)
    proc.send_signal(signal.SIGINT)
    finish(proc)
    fetched_first = len(page_fetches(server, web))
    assert 0 < fetched_first < len(web.expected_requests())
    finish(start(cmd))  # the same job, no seeds: resume
    assert_index_complete(data, web, server.port)
    fetches = page_fetches(server, web)
    assert set(fetches) == web.expected_requests()
    assert fetches == web.expected_fetches()  # once; a 5xx 1 + 3 times


def test_a_separate_worker_joins_and_does_part_of_the_work(
    web: TestWeb, served: tuple[LocalWebServer, Path], tmp_path: Path, own_redis: EmbeddedValkey
) -> None:
    server, hosts_file = served
    data, warc = tmp_path / "data", tmp_path / "worker-warc"
    owner = start(
        crawl_cmd(
            data,
            hosts_file,
            "--job",
            "joined",
            "--workers",
            "1",
            "--delay",
            "0.5",
            "--redis",
            own_redis.url,
            *web.seeds(server.port),
        )
    )
    wait_for(lambda: len(server.requests()) >= 5)
    worker = start(
        [
            *LINKGRAPH,
            "worker",
            "--job",
            "joined",
            "--redis",
            own_redis.url,
            "--warc",
            str(warc),
            "-q",
        ]
    )
    finish(worker)
    finish(owner)
    assert_index_complete(data, web, server.port)
    fetched_by_worker = len(set().union(*(archived_pages(p) for p in warc.glob("*.warc.gz"))))
    assert 0 < fetched_by_worker < len(web.expected_requests())
    assert page_fetches(server, web) == web.expected_fetches()  # once; a 5xx 1 + 3 times


def test_the_crawl_survives_a_redis_restart(
    web: TestWeb, served: tuple[LocalWebServer, Path], tmp_path: Path, own_redis: EmbeddedValkey
) -> None:
    server, hosts_file = served
    data = tmp_path / "data"
    port = int(own_redis.url.rsplit(":", 1)[1].split("/")[0])
    proc = start(
        crawl_cmd(
            data,
            hosts_file,
            "--workers",
            "2",
            "--delay",
            "0.5",
            "--redis",
            own_redis.url,
            *web.seeds(server.port),
        )
    )
    wait_for(lambda: len(server.requests()) >= 25)
    own_redis.stop()  # SHUTDOWN: the append-only file is flushed
    time.sleep(1.0)
    own_redis.start(port=port)
    finish(proc)
    assert_index_complete(data, web, server.port)
    assert set(page_fetches(server, web)) == web.expected_requests()


def test_worker_needs_a_known_job(own_redis: EmbeddedValkey) -> None:
    proc = run_linkgraph("worker", "--job", "nope", "--redis", own_redis.url, check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        "linkgraph: error: no job 'nope' in this frontier (see `linkgraph jobs`)"
    )


def test_jobs_can_be_paused_resumed_stopped_and_inspected(
    web: TestWeb, served: tuple[LocalWebServer, Path], tmp_path: Path, own_redis: EmbeddedValkey
) -> None:
    server, hosts_file = served
    data = tmp_path / "data"
    redis_args = ["--redis", own_redis.url]
    proc = start(crawl_cmd(data, hosts_file, "--job", "steer", "--workers", "1", "--delay", "0.5",
                           *redis_args, *web.seeds(server.port)))  # fmt: skip
    wait_for(lambda: len(server.requests()) >= 5)
    run_linkgraph("pause", "steer", *redis_args)
    # requests handed out before the workers saw the new state finish; then nothing starts
    wait_for(lambda: quiet_for(server, 2.5), timeout=60)  # longer than a batch flush
    paused_at = len(server.requests())
    status = json.loads(run_linkgraph("status", "steer", "--json", *redis_args).stdout)
    assert status["state"] == "paused" and status["queued"] > 0 and status["workers"] == 1
    assert status["pages_per_s"] == 0 and status["done"] + status["queued"] <= status["seen"]
    time.sleep(1.0)
    assert len(server.requests()) == paused_at
    run_linkgraph("resume", "steer", *redis_args)
    wait_for(lambda: len(server.requests()) > paused_at + 3)
    run_linkgraph("stop", "steer", *redis_args)
    finish(proc)
    listing = run_linkgraph("jobs", *redis_args).stdout.splitlines()
    assert listing[0].split() == ["job", "state", "recorded", "queued", "in", "flight", "workers"]
    row = next(line.split() for line in listing[1:] if line.startswith("steer "))
    assert row[1] == "stopped" and int(row[3]) > 0 and row[5] == "0"
    recorded = query(data, "SELECT count() FROM pages")[0][0]
    assert int(row[2]) == recorded < len(web.expected_pages(server.port))
