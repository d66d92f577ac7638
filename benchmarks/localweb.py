"""The bench web, served from its own process so that neither crawler is charged for its CPU."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class ServedWeb:
    port: int
    pid: int  # the server process, whose CPU the benchmark reports but charges to no crawler
    hosts_file: Path  # /etc/hosts format: every bench host is 127.0.0.1
    seeds: list[str]  # one home page per host


@contextlib.contextmanager
def serve_bench_web(
    workdir: Path, *, hosts: int, pages_per_host: int, workers: int = 1
) -> Iterator[ServedWeb]:
    hosts_file, seeds_file = workdir / "hosts", workdir / "seeds"
    cmd = [
        sys.executable, "-m", "crawler.localweb", "serve", "--web", "bench",
        "--hosts", str(hosts), "--pages-per-host", str(pages_per_host),
        "--hosts-file", str(hosts_file), "--seeds-file", str(seeds_file),
        "--workers", str(workers),
    ]  # fmt: skip
    server = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        line = server.stdout.readline()  # the port, printed once the files are written
        if not line.strip().isdigit():
            raise RuntimeError(f"the bench web server did not start (said {line!r})")
        seeds = seeds_file.read_text(encoding="utf-8").split()
        yield ServedWeb(int(line), server.pid, hosts_file, seeds)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
