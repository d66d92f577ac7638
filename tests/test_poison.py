"""A page that kills its worker is recorded as poison after the third death, and never fetched
again; the pages around it are indexed once. Real processes, real SIGKILLs, real Valkey and chDB.

The poison page hangs (its answer never comes), and the test plays the page's effect: each time
the poison's server sees a request for it, the test SIGKILLs the process that sent it (the one
connected to that server), as the page would. A killed coordinator is resumed, as an operator
would resume it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
import redis

from crawler.demo.server import LocalWebServer, write_hosts_file
from crawler.demo.web import Resource
from crawler.frontier.keys import JobKeys
from crawler.processes.valkey import EmbeddedValkey
from tests.conftest import LINKGRAPH, ROOT, query

HTML = [("Content-Type", "text/html")]
# hub -> a -> b -> c -> poison: when the poison is fetched, every other page is fetched and
# parsed, so a death is the poison's alone.
CHAIN = ["hub.test", "a.test", "b.test", "c.test"]
KILLS = 3  # a page that kills its worker more than twice is poison
HANG_SECONDS = 3600.0
POISON_ROW = ("http://poison.test/", 0, f"poison: its worker died or hung {KILLS} times")


class ChainWeb:
    """The good pages; the last links to the poison page, served on another port."""

    def __init__(self, poison_port: int) -> None:
        self.poison_port = poison_port

    def hosts(self) -> list[str]:
        return CHAIN

    def resolve(self, host: str, path: str, port: int) -> Resource | None:
        if path == "/robots.txt":
            return Resource(404, [], b"")
        if path != "/" or host not in CHAIN:
            return None
        if host == CHAIN[-1]:
            after = f"http://poison.test:{self.poison_port}/"
        else:
            after = f"http://{CHAIN[CHAIN.index(host) + 1]}:{port}/"
        return Resource(200, HTML, f'<a href="{after}">next</a>'.encode())


class PoisonWeb:
    """poison.test/ never answers; each request for it is counted as it arrives."""

    def __init__(self) -> None:
        self.requested = threading.Semaphore(0)

    def hosts(self) -> list[str]:
        return ["poison.test"]

    def resolve(self, host: str, path: str, port: int) -> Resource | None:
        if path == "/robots.txt":
            return Resource(404, [], b"")
        if path != "/":
            return None
        self.requested.release()
        return Resource(200, HTML, b"<p>never sent</p>", delay=HANG_SECONDS)


def connected_to(port: int) -> set[int]:
    """Processes with an established TCP connection to 127.0.0.1:`port` (as its client)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "01" and int(fields[2].rsplit(":", 1)[1], 16) == port:
                inodes.add(f"socket:[{fields[9]}]")
    pids = set()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            if any(os.readlink(fd) in inodes for fd in (proc / "fd").iterdir()):
                pids.add(int(proc.name))
        except OSError:
            continue
    return pids


def crawl(cmd: list[str], log: Path) -> subprocess.Popen[bytes]:
    """A crawl writing to a file: its workers share it, and may outlive it."""
    with log.open("ab") as out:
        return subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)


def good_and_poison_rows(data: Path) -> list[tuple[str, int, str]]:
    rows = query(data, "SELECT replaceRegexpOne(url, ':[0-9]+/', '/'), status, error FROM pages")
    return sorted(rows)


EXPECTED_ROWS = sorted([(f"http://{host}/", 200, "") for host in CHAIN] + [POISON_ROW])


def not_fetched(redis_url: str, output: Path) -> str:
    """What a failure shows: the job's leases and workers, and what the crawl said."""
    client = redis.Redis.from_url(redis_url)
    keys = JobKeys("poison")
    state = {name: client.hgetall(getattr(keys, name)) for name in ("leases", "lease_owners")}
    workers = client.zrange(keys.workers, 0, -1, withscores=True)
    return f"the poison page was not fetched at {time.time()}: {state} {workers}\n" + (
        output.read_text()
    )


def children(pid: int) -> set[int]:
    """The processes `pid` started (a coordinator's workers)."""
    found = set()
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and int(_stat(int(proc.name))[1]) == pid:
                found.add(int(proc.name))
        except (OSError, IndexError):
            continue
    return found


def _stat(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def running(pid: int) -> bool:
    try:
        return _stat(pid)[0] != "Z"
    except (OSError, IndexError):
        return False


@pytest.mark.parametrize("workers", [1, 3])
def test_a_page_that_kills_its_worker_three_times_is_recorded_as_poison(
    tmp_path: Path, own_redis: EmbeddedValkey, workers: int
) -> None:
    poison = PoisonWeb()
    data, hosts_file = tmp_path / "data", tmp_path / "hosts"
    write_hosts_file(hosts_file, [*CHAIN, "poison.test"])
    orphans: set[int] = set()  # workers of a killed coordinator: they crawl on by themselves
    with (
        LocalWebServer(poison) as poison_server,
        LocalWebServer(ChainWeb(poison_server.port)) as server,
    ):
        cmd = [*LINKGRAPH, "crawl", "--job", "poison", "--data-dir", str(data), "--redis",
               own_redis.url, "--hosts-file", str(hosts_file), "--allow-private",
               "--delay", "0", "--workers", str(workers), "-q"]  # fmt: skip
        output = tmp_path / "crawl.log"
        coordinator = crawl([*cmd, f"http://hub.test:{server.port}/"], output)
        for _ in range(KILLS):
            assert poison.requested.acquire(timeout=120), not_fetched(own_redis.url, output)
            victims = connected_to(poison_server.port)
            assert len(victims) == 1, victims  # the process fetching it, and no other
            victim = victims.pop()
            if victim == coordinator.pid:
                orphans |= children(victim)
            os.kill(victim, signal.SIGKILL)  # what the page does to its worker
            orphans.discard(victim)
            if victim == coordinator.pid:
                coordinator.wait(timeout=60)
                coordinator = crawl(cmd, output)  # resumed, as an operator would
        # the page is recorded, not fetched again, and the job ends
        assert coordinator.wait(timeout=240) == 0, output.read_text()
        # How a dead coordinator's workers end is for crawler/processes/stopping.py to say:
        # here they are only not left behind.
        for pid in orphans:
            if running(pid):
                os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 60
        while any(running(pid) for pid in orphans):
            assert time.monotonic() < deadline, f"workers left running: {orphans}"
            time.sleep(0.1)
        assert not poison.requested.acquire(timeout=0), "fetched a fourth time"
        log = server.requests()
    assert good_and_poison_rows(data) == EXPECTED_ROWS
    assert {(e.host, e.path) for e in log if e.path == "/"} == {(h, "/") for h in CHAIN}
