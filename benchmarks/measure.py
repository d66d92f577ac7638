"""Runs a command and measures what it costs: wall time, and CPU of its whole process tree.

The CPU figure comes from the kernel (wait4's rusage), so it includes every descendant the
command waited for, such as linkgraph's embedded valkey-server. A sampler thread also reads
/proc (via psutil) to split that total by executable and to find the tree's peak memory.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

SAMPLE_SECONDS = 0.25


@dataclass(slots=True)
class Cost:
    returncode: int
    wall_s: float
    user_s: float
    sys_s: float
    # CPU seconds per executable name, as last sampled: a slight undercount for processes that
    # kept working after the last sample (at most SAMPLE_SECONDS of it).
    cpu_by_name: dict[str, float] = field(default_factory=dict)
    peak_rss_mb: float = 0.0  # largest sum of RSS over the tree at one sample

    @property
    def cpu_s(self) -> float:
        return self.user_s + self.sys_s


class _Sampler(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(name="cost-sampler", daemon=True)
        self.root = pid
        self.cpu: dict[int, tuple[str, float]] = {}  # pid -> (name, user+sys seconds)
        self.peak_rss = 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(SAMPLE_SECONDS):
            try:
                root = psutil.Process(self.root)
                procs = [root, *root.children(recursive=True)]
            except psutil.Error:
                return
            rss = 0
            for proc in procs:
                try:
                    with proc.oneshot():
                        times, name = proc.cpu_times(), proc.name()
                        rss += proc.memory_info().rss
                except psutil.Error:
                    continue  # it ended between listing and reading
                self.cpu[proc.pid] = (name, times.user + times.system)
            self.peak_rss = max(self.peak_rss, rss)


def run_measured(cmd: list[str], *, log: Path, cwd: Path | None = None) -> Cost:
    """Run `cmd` to completion with stdout and stderr in `log`, and return its cost."""
    with log.open("wb") as out:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=cwd)
        sampler = _Sampler(proc.pid)
        sampler.start()
        # wait4 gives this child's own rusage (its waited-for descendants included), which
        # getrusage(RUSAGE_CHILDREN) deltas would mix with any other child reaped meanwhile.
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
    sampler.done.set()
    sampler.join()
    by_name: dict[str, float] = {}
    for name, seconds in sampler.cpu.values():
        by_name[name] = by_name.get(name, 0.0) + seconds
    return Cost(
        returncode=proc.returncode,
        wall_s=wall,
        user_s=usage.ru_utime,
        sys_s=usage.ru_stime,
        cpu_by_name=by_name,
        peak_rss_mb=sampler.peak_rss / 2**20,
    )


def tree_cpu_s(pid: int) -> float:
    """CPU seconds a live process and its live descendants have used so far."""
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0.0
    total = 0.0
    for proc in procs:
        try:
            times = proc.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total
