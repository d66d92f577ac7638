"""A real `linkgraph serve` subprocess for tests, and a small JSON client of its API."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.conftest import LINKGRAPH, ROOT

START_SECONDS = 60.0  # Valkey and chDB start, the schema is applied
STOP_SECONDS = 30.0  # a SIGTERM lets the jobs finish what they fetch


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Served:
    proc: subprocess.Popen[str]
    url: str
    data_dir: Path
    log: Path  # its stdout and stderr
    token: str = ""

    def output(self) -> str:
        return self.log.read_text()

    def call(
        self, method: str, path: str, body: Any = None, *, token: str | None = None
    ) -> tuple[int, Any]:
        """(status, decoded JSON or text) of one request; `token` overrides the service's."""
        data = body if isinstance(body, bytes) else None
        if body is not None and data is None:
            data = json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method)
        given = self.token if token is None else token
        if given:
            request.add_header("Authorization", f"Bearer {given}")
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                status, raw, kind = response.status, response.read(), response.headers
        except urllib.error.HTTPError as exc:
            status, raw, kind = exc.code, exc.read(), exc.headers
        if kind.get_content_type() == "application/json":
            return status, json.loads(raw)
        return status, raw.decode()

    def ok(self, method: str, path: str, body: Any = None) -> Any:
        status, answer = self.call(method, path, body)
        assert status < 300, f"{method} {path}: {status} {answer}"
        return answer

    def sql(self, query: str) -> str:
        """The query's result as TabSeparated text."""
        from urllib.parse import urlencode

        return str(self.ok("GET", "/api/sql?" + urlencode({"query": query, "format": "TSV"})))

    def stop(self) -> int:
        """SIGTERM, and the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=STOP_SECONDS)


@contextlib.contextmanager
def serve(data_dir: Path, *args: str, token: str = "") -> Iterator[Served]:
    """`linkgraph serve` on a free port until the block ends (then SIGTERM, or killed)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "LINKGRAPH_TOKEN"}
    env["PYTHONUNBUFFERED"] = "1"
    cmd = [*LINKGRAPH, "serve", "--data-dir", str(data_dir), "--port", str(port), *args]
    if token:
        cmd += ["--token", token]
    log = data_dir.parent / f"serve-{port}.log"  # read by the test; a pipe could fill up
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, text=True, stdout=out, stderr=out)
    served = Served(proc, f"http://127.0.0.1:{port}", data_dir, log, token)
    try:
        wait_until(lambda: _answers(served), "serve answers /healthz", START_SECONDS)
        yield served
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=STOP_SECONDS)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _answers(served: Served) -> bool:
    if served.proc.poll() is not None:
        raise AssertionError(f"serve exited {served.proc.returncode}: {served.output()}")
    try:
        return served.call("GET", "/healthz")[0] == 200
    except OSError:
        return False


def wait_until(done: Callable[[], bool], what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.1)


def descendants(pid: int) -> set[int]:
    """The processes started by `pid`, and theirs (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def alive(pid: int) -> bool:
    """Running (not gone, not a zombie)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"
