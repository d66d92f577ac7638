"""One crawl across machines: Valkey, the coordinator (`linkgraph crawl`, which owns the embedded
chDB index), two `linkgraph worker`s and the test web each on a network namespace of its own
(tests/netns.py), joined by veth links to a bridge on 10.77.0.0/24. Nothing reaches another
machine over loopback: the workers know Valkey only by its address, and every site of the test
web resolves, through the job's hosts map, to the web machine's address.

The index must equal the test web's ground truth, every page fetched once, and the pages split
across the workers: each process's own summary says how many pages it recorded, and these add
up to the ground truth's.

Namespaces need root, as CI runs the tests; elsewhere the test fails and says so."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest
import redis

from crawler import jobs
from crawler.demo.server import LocalWebServer, write_hosts_file
from crawler.processes.valkey import _executable
from tests.conftest import LINKGRAPH, ROOT, SHORT_BACKOFF, page_fetches, run_cli
from tests.netns import Network
from tests.test_workers import assert_index_complete, wait_for
from tests.testweb import TestWeb

JOB = "multihost"
WEB_PORT = 8080
VALKEY_PORT = 6379
DELAY = "0.5"
WORKERS = ("worker1", "worker2")
RECORDED = re.compile(r"this run recorded (\d+) pages")


@pytest.fixture
def network() -> Iterator[Network]:
    if os.geteuid() != 0:
        pytest.fail("the multi-host test makes network namespaces, which needs root (CI runs "
                    "the tests as root): run it as root")  # fmt: skip
    if shutil.which("ip") is None:
        pytest.fail("the multi-host test needs the `ip` command (iproute2)")
    with Network() as net:
        yield net


class Machines:
    """The processes started on the network's machines, each logging to its own file."""

    def __init__(self, network: Network, logs: Path) -> None:
        self.network = network
        self.logs = logs
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.files: list[IO[bytes]] = []

    def start(self, machine: str, argv: list[str]) -> None:
        out = (self.logs / f"{machine}.log").open("wb")
        self.files.append(out)
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.procs[machine] = subprocess.Popen(
            self.network.command(machine, argv), stdout=out, stderr=out, cwd=ROOT, env=env
        )

    def output(self, machine: str) -> str:
        return (self.logs / f"{machine}.log").read_text(errors="replace")

    def finish(self, machine: str, timeout: float = 240) -> str:
        proc = self.procs[machine]
        try:
            status = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"{machine} did not end:\n{self.output(machine)}") from None
        assert status == 0, f"{machine} exited {status}:\n{self.output(machine)}"
        return self.output(machine)

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        for out in self.files:
            out.close()


def recorded_pages(output: str) -> int:
    found = RECORDED.findall(output)
    assert len(found) == 1, output
    return int(found[0])


def test_a_crawl_across_machines_is_exact_and_split_across_the_workers(
    network: Network, web: TestWeb, tmp_path: Path
) -> None:
    valkey, coordinator, web_host = network.add("valkey"), network.add("coord"), network.add("web")
    worker_addresses = {network.add(w) for w in WORKERS}
    redis_url = f"redis://{valkey}:{VALKEY_PORT}/0"
    with network.entered("web"):
        listening = socket.create_server((web_host, WEB_PORT), backlog=1024)
    hosts_file = tmp_path / "hosts"
    write_hosts_file(hosts_file, web.hosts(), address=web_host)
    (tmp_path / "valkey").mkdir()
    machines = Machines(network, tmp_path)
    try:
        with LocalWebServer(web, sock=listening) as server:
            machines.start("valkey", [
                _executable(), "--bind", valkey, "--port", str(VALKEY_PORT), "--protected-mode",
                "no", "--dir", str(tmp_path / "valkey"), "--appendonly", "yes", "--save", "",
            ])  # fmt: skip
            with network.entered("valkey"):
                client = redis.Redis.from_url(redis_url, socket_connect_timeout=1)
                wait_for(lambda: _answers(client), timeout=30)
            machines.start("coord", [
                *LINKGRAPH, "crawl", "--job", JOB, "--data-dir", str(tmp_path / "data"),
                "--redis", redis_url, "--workers", "1", "--hosts-file", str(hosts_file),
                "--allow-private", "--delay", DELAY, "-q", *SHORT_BACKOFF,
                *web.seeds(WEB_PORT),
            ])  # fmt: skip
            with network.entered("valkey"):
                # Paused until both workers are up, so that neither finds the job done.
                wait_for(lambda: jobs.load(client, JOB) is not None, timeout=120)
                assert run_cli("pause", JOB, "--redis", redis_url)[0] == 0
            for worker in WORKERS:
                machines.start(worker, [
                    *LINKGRAPH, "worker", "--job", JOB, "--redis", redis_url,
                    "--data-dir", str(tmp_path / worker),
                ])  # fmt: skip
            with network.entered("valkey"):
                wait_for(lambda: _live_workers(redis_url) == 3, timeout=120)
                assert run_cli("resume", JOB, "--redis", redis_url)[0] == 0
                # every crawling machine talks to Valkey from its own address (and this test
                # from Valkey's machine)
                clients = {c["addr"].rsplit(":", 1)[0] for c in client.client_list()}
                client.close()
            assert clients == {valkey, coordinator, *worker_addresses}, clients
            by_process = {m: recorded_pages(machines.finish(m)) for m in WORKERS}
            by_process["coord"] = recorded_pages(machines.finish("coord"))
            fetches = page_fetches(server, web)
    finally:
        machines.stop_all()
    assert_index_complete(tmp_path / "data", web, WEB_PORT)
    assert fetches == web.expected_fetches()  # once; a 5xx 1 + 3 times
    assert all(by_process[w] > 0 for w in WORKERS), by_process
    assert sum(by_process.values()) == len(web.expected_pages(WEB_PORT)), by_process


def _answers(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.ConnectionError:
        time.sleep(0.1)
        return False


def _live_workers(redis_url: str) -> int:
    status, out, err = run_cli("status", JOB, "--json", "--redis", redis_url)
    assert status == 0, err
    return int(json.loads(out)["workers"])
