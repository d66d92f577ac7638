"""Stopping a crawl the way operators do: Ctrl-C in a terminal (a SIGINT to the whole process
group), a SIGTERM to the coordinator alone (Kubernetes, systemd), and a second Ctrl-C. Real
processes, real signals, the embedded Valkey and chDB, and the test web; every stopped job is
then resumed, and must end exact with no page fetched twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from crawler.demo.server import LocalWebServer
from tests.conftest import ROOT, page_fetches
from tests.test_workers import (
    assert_index_complete,
    crawl_cmd,
    finish,
    start,
    wait_for,
    worker_pids,
)
from tests.testweb import TestWeb

# What a stop is given, from the signal to the exit of the last process of the job.
STOP_SECONDS = 10


def start_in_own_group(cmd: list[str]) -> subprocess.Popen[str]:
    """A crawl in a process group of its own, as a terminal runs it (the test is not in it)."""
    return subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)  # fmt: skip


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    return state != "Z"


def embedded_valkey_pid(data: Path) -> int:
    return int(json.loads((data / "redis" / "server.json").read_text())["pid"])


def stopped_crawl(
    web: TestWeb, server: LocalWebServer, hosts_file: Path, data: Path, job: str, stop: str
) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """A 3-worker crawl stopped mid-way by `stop` ("group": SIGINT to its process group, as
    Ctrl-C; "term": SIGTERM to the coordinator; "twice": two Ctrl-C). Returns the stopped
    crawl (exit status, stderr) and the command that resumes it."""
    cmd = crawl_cmd(data, hosts_file, "--job", job, "--workers", "3", "--delay", "0.5")
    proc = start_in_own_group([*cmd, *web.seeds(server.port)])
    wait_for(lambda: len(worker_pids(proc.pid)) == 2 and len(server.requests()) >= 25)
    workers = worker_pids(proc.pid)
    valkey = embedded_valkey_pid(data)
    if stop == "term":
        os.kill(proc.pid, signal.SIGTERM)
    else:
        os.killpg(proc.pid, signal.SIGINT)
        if stop == "twice":
            time.sleep(0.3)
            os.killpg(proc.pid, signal.SIGINT)
    try:
        out, err = proc.communicate(timeout=STOP_SECONDS)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        os.kill(valkey, signal.SIGKILL)  # in a session of its own
        out, err = proc.communicate()
        pytest.fail(f"the crawl did not stop within {STOP_SECONDS} s\n{err}")
    # every process of the job is gone, the embedded server (stopped by linkgraph) last
    assert not [pid for pid in [*workers, valkey] if alive(pid)]
    assert not (data / "redis" / "server.json").exists()
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err), cmd


def assert_resume_ends_exact(
    web: TestWeb, server: LocalWebServer, data: Path, cmd: list[str], *, unrecorded: int = 0
) -> None:
    """Resume the job: the index ends exact, and only the `unrecorded` pages of the stopped run
    (fetched, but not stored when it stopped at once) are fetched again."""
    first = page_fetches(server, web)
    assert 0 < len(first) < len(web.expected_requests())
    finish(start(cmd))  # the same job, no seeds: resume
    assert_index_complete(data, web, server.port)
    fetches = page_fetches(server, web)
    assert set(fetches) == web.expected_requests()
    again = {key for key, n in fetches.items() if n > web.expected_fetches()[key]}
    assert len(again) <= unrecorded
    assert all(fetches[key] == web.expected_fetches()[key] + 1 for key in again)


def recorded_in(stderr: str, job: str) -> int:
    """The job's pages recorded, from the summary line."""
    words = summary(stderr, job).split("job total ", 1)[1].split()
    return int(words[0])


def summary(stderr: str, job: str) -> str:
    lines = [line for line in stderr.splitlines() if line.startswith(f"job {job}: ")]
    assert lines, stderr
    return lines[-1]


def test_ctrl_c_stops_the_whole_job_gracefully_and_a_resume_ends_exact(
    web: TestWeb, served: tuple[LocalWebServer, Path], tmp_path: Path
) -> None:
    server, hosts_file = served
    data = tmp_path / "data"
    stopped, cmd = stopped_crawl(web, server, hosts_file, data, "ctrlc", "group")
    assert stopped.returncode in (0, 130), stopped.stderr
    assert summary(stopped.stderr, "ctrlc").startswith("job ctrlc: shutdown; this run recorded ")
    assert "Traceback" not in stopped.stderr
    assert_resume_ends_exact(web, server, data, cmd)


def test_sigterm_to_the_coordinator_alone_stops_its_workers_too(
    web: TestWeb, served: tuple[LocalWebServer, Path], tmp_path: Path
) -> None:
    server, hosts_file = served
    data = tmp_path / "data"
    stopped, cmd = stopped_crawl(web, server, hosts_file, data, "term", "term")
    assert stopped.returncode == 0, stopped.stderr
    assert summary(stopped.stderr, "term").startswith("job term: shutdown; this run recorded ")
    assert "Traceback" not in stopped.stderr
    assert_resume_ends_exact(web, server, data, cmd)


def test_a_second_ctrl_c_stops_at_once_and_loses_nothing(
    web: TestWeb, served: tuple[LocalWebServer, Path], tmp_path: Path
) -> None:
    server, hosts_file = served
    data = tmp_path / "data"
    stopped, cmd = stopped_crawl(web, server, hosts_file, data, "twice", "twice")
    assert stopped.returncode == 130, stopped.stderr
    assert summary(stopped.stderr, "twice").startswith("job twice: interrupted; ")
    fetched = sum(page_fetches(server, web).values())
    unrecorded = fetched - recorded_in(stopped.stderr, "twice")
    assert_resume_ends_exact(web, server, data, cmd, unrecorded=unrecorded)
