"""A job's state as a reader polls it through the end of a run: it goes from "running" to its
outcome, never through "interrupted" on the way. Between the last worker leaving the job and
the run's end being recorded (the rows drained, the summary built), nobody crawls the job, but
the process that records its end is alive: the job is still running.

The runs last longer than STARTING_SECONDS (crawler/jobstats.py), the grace a run just started
gets: they are paused for that long first. Real processes: `linkgraph serve` with its workers,
and `linkgraph crawl` with two workers on the test's Valkey."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from itertools import groupby
from pathlib import Path

import pytest
import redis

from crawler.demo.server import LocalWebServer, write_hosts_file
from crawler.jobstats import STARTING_SECONDS, read_job_stats
from tests.conftest import LINKGRAPH, ROOT, run_linkgraph
from tests.serving import Served, serve, wait_until
from tests.test_service_api import submission
from tests.testweb import TestWeb, build_test_web


@pytest.fixture(scope="module")
def test_web() -> Iterator[tuple[TestWeb, LocalWebServer]]:
    web = build_test_web()
    with LocalWebServer(web) as server:
        yield web, server


def changes(states: list[str]) -> list[str]:
    """The states seen, each once per stretch."""
    return [state for state, _ in groupby(states)]


def test_a_service_job_goes_from_running_to_finished(
    test_web: tuple[TestWeb, LocalWebServer], tmp_path: Path
) -> None:
    web, server = test_web
    with serve(tmp_path / "data") as service:
        service.ok("POST", "/api/jobs", submission(web, server.port, "polled", 0.0, 2))
        service.ok("POST", "/api/jobs/polled/pause")
        states = poll_through_pause_and_end(service)
    assert changes(states) == ["paused", "running", "finished"], changes(states)


def poll_through_pause_and_end(service: Served) -> list[str]:
    """Every state the API gives for job `polled`, polled back to back: paused until its run is
    older than the starting grace, resumed, and on until its end is recorded."""
    states = [service.ok("GET", "/api/jobs/polled")["state"]]
    resumed = False
    while True:
        answer = service.ok("GET", "/api/jobs/polled")
        states.append(answer["state"])
        if answer["summary"] is not None:
            return states
        if not resumed and time.time() - answer_started(answer) > STARTING_SECONDS + 1:
            service.ok("POST", "/api/jobs/polled/resume")
            resumed = True


def answer_started(answer: dict[str, object]) -> float:
    return datetime.fromisoformat(str(answer["started"]).replace("Z", "+00:00")).timestamp()


def test_a_crawl_with_workers_goes_from_running_to_finished(
    test_web: tuple[TestWeb, LocalWebServer],
    tmp_path: Path,
    redis_server: str,
) -> None:
    """`linkgraph crawl --workers 2`: its coordinator records the end once its worker left."""
    web, server = test_web
    hosts = tmp_path / "hosts"
    write_hosts_file(hosts, web.hosts())
    client = redis.Redis.from_url(redis_server)
    job = "polled-crawl"
    cmd = [
        *LINKGRAPH, "crawl", *web.seeds(server.port), "--job", job, "--workers", "2",
        "--data-dir", str(tmp_path / "data"), "--redis", redis_server,
        "--hosts-file", str(hosts), "--allow-private", "--delay", "0", "-q",
    ]  # fmt: skip
    states: list[str] = []
    done = threading.Event()

    def poll() -> None:
        while not done.is_set():
            stats = read_job_stats(client, job)
            if stats is not None:
                states.append(stats.state)
            time.sleep(0.01)

    poller = threading.Thread(target=poll, daemon=True)
    with subprocess.Popen(cmd, cwd=ROOT, text=True, stderr=subprocess.PIPE) as crawl:
        wait_until(lambda: read_job_stats(client, job) is not None, "the job is saved")
        run_linkgraph("pause", job, "--redis", redis_server)
        poller.start()
        time.sleep(STARTING_SECONDS + 1)  # the run is older than the starting grace
        run_linkgraph("resume", job, "--redis", redis_server)
        _, err = crawl.communicate(timeout=300)
    done.set()
    poller.join(30)
    assert crawl.returncode == 0, err
    final = read_job_stats(client, job)
    assert final is not None and final.state == "finished" and final.summary is not None
    assert changes(states) == ["paused", "running", "finished"], changes(states)
