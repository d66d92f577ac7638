"""Throughput against a distant Redis: one crawling process (`linkgraph crawl --workers 1
--redis URL`) whose every frontier call crosses benchmarks/latency_proxy.py, at several round-trip
times, against the same crawl talking to Valkey directly. Part of `make bench-scaling`.

The rate is the crawling rate, pages over the span of their fetch times (start-up and shutdown
left out); the proxy also counts the Redis commands and round trips, per page recorded.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psutil
import redis

from benchmarks import linkgraph_run
from benchmarks.benchweb import ServedWeb
from benchmarks.harness import machine_busy_s, say
from benchmarks.measure import Cost, run_measured
from crawler.processes.valkey import EmbeddedValkey

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_RTTS_MS = (0.0, 2.0, 10.0)
PINGS = 200


@dataclass(slots=True)
class RttRun:
    label: str  # "direct", or the round trip the proxy adds
    added_rtt_ms: float | None  # None: no proxy
    measured_rtt_ms: float  # median PING from this machine through the proxy (or direct)
    cost: Cost
    other_cpu_s: float  # CPU the rest of the machine used meanwhile (the bench web's included)
    proxy_cpu_s: float
    counts: dict[str, Any] = field(default_factory=dict)  # the proxy's (none direct)
    pages: int = 0
    span_s: float = 0.0  # first to last fetch time in the index

    @property
    def pages_per_s(self) -> float:
        return (self.pages - 1) / self.span_s if self.span_s > 0 else 0.0

    @property
    def wall_pages_per_s(self) -> float:
        return self.pages / self.cost.wall_s

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "pages_per_s": self.pages_per_s,
                "wall_pages_per_s": self.wall_pages_per_s}  # fmt: skip


@contextlib.contextmanager
def proxied(url: str, delay_ms: float, counts: Path) -> Iterator[tuple[str, psutil.Process]]:
    """`url`'s server behind a latency proxy adding `delay_ms` each way: its URL, its process."""
    host, port = url.removeprefix("redis://").split("/")[0].rsplit(":", 1)
    cmd = [sys.executable, "-m", "benchmarks.latency_proxy", "--target", f"{host}:{port}",
           "--delay-ms", str(delay_ms), "--counts", str(counts)]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line.strip().isdigit():
            raise RuntimeError(f"the latency proxy did not start (said {line!r})")
        yield f"redis://127.0.0.1:{int(line)}/0", psutil.Process(proc.pid)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def ping_rtt_ms(url: str) -> float:
    client = redis.Redis.from_url(url)
    client.ping()
    times = []
    for _ in range(PINGS):
        started = time.perf_counter()
        client.ping()
        times.append(time.perf_counter() - started)
    client.close()
    return 1000 * statistics.median(times)


def crawl_at(added_rtt_ms: float | None, web: ServedWeb, seeds: Path, pages: int,
             work: Path, name: str) -> RttRun:  # fmt: skip
    label = name if added_rtt_ms is None else f"+{added_rtt_ms:g} ms"
    counts_file = work / f"{name}-counts.json"
    with EmbeddedValkey(work / f"valkey-{name}") as valkey, contextlib.ExitStack() as stack:
        url, proxy = valkey.url, None
        if added_rtt_ms is not None:
            url, proxy = stack.enter_context(proxied(url, added_rtt_ms / 2, counts_file))
        rtt = ping_rtt_ms(url)
        if proxy is not None:
            proxy.send_signal(signal.SIGUSR1)  # count the crawl's commands, not the PINGs
            time.sleep(0.2)
        say(f"one crawling process, Redis {label} (measured round trip {rtt:.2f} ms): "
            f"{pages} pages")  # fmt: skip
        cmd = linkgraph_run.crawl_command(seeds, web.hosts_file, work / f"data-{name}", pages,
                                          workers=1)  # fmt: skip
        busy = machine_busy_s()
        proxy_cpu = sum(proxy.cpu_times()[:2]) if proxy else 0.0
        cost = run_measured([*cmd, "--redis", url], log=work / f"crawl-{name}.log", cwd=ROOT)
        other = machine_busy_s() - busy - cost.cpu_s
        proxy_cpu = sum(proxy.cpu_times()[:2]) - proxy_cpu if proxy else 0.0
    if cost.returncode != 0:
        tail = (work / f"crawl-{name}.log").read_text(errors="replace")[-3000:]
        raise SystemExit(f"the crawl with Redis {label} failed (exit {cost.returncode}):\n{tail}")
    counts = json.loads(counts_file.read_text()) if added_rtt_ms is not None else {}
    return RttRun(label, added_rtt_ms, rtt, cost, max(other, 0.0), proxy_cpu, counts)


def bench_rtts(web: ServedWeb, seeds: Path, pages: int, rtts_ms: tuple[float, ...],
               work: Path) -> list[RttRun]:  # fmt: skip
    """A direct run, one per added round trip, and a direct run again (the machine's speed
    drifts: the two direct runs show by how much); read back once all have run."""
    names = ["direct", *(f"rtt-{ms:g}" for ms in rtts_ms), "direct-again"]
    delays: list[float | None] = [None, *rtts_ms, None]
    runs = [
        crawl_at(ms, web, seeds, pages, work, name) for ms, name in zip(delays, names, strict=True)
    ]
    for run, name in zip(runs, names, strict=True):
        run.pages, run.span_s = fetch_span(work / f"data-{name}")
    return runs


def fetch_span(data_dir: Path) -> tuple[int, float]:
    from crawler.storage import StorageTarget, connect

    client = connect(StorageTarget("", data_dir), migrate=False)
    try:
        pages, first, last = client.query(
            "SELECT count(), min(fetched_at), max(fetched_at) FROM pages WHERE job = {job:String}",
            parameters={"job": linkgraph_run.JOB},
        ).result_rows[0]
    finally:
        client.close()
    return int(pages), (last - first).total_seconds()


def script_names() -> dict[str, str]:
    """SHA1 of each frontier script -> its name, for reading EVALSHA counts."""
    from crawler.frontier import scripts

    return {
        hashlib.sha1(value.lua.encode()).hexdigest(): name
        for name, value in vars(scripts).items()
        if isinstance(value, scripts.Script)
    }


def direct_pages_per_s(runs: list[RttRun]) -> float:
    """The mean of the direct runs' rates: what each proxied run is compared with."""
    return statistics.mean(r.pages_per_s for r in runs if r.added_rtt_ms is None)


def report_lines(runs: list[RttRun]) -> list[str]:
    direct = direct_pages_per_s(runs)
    lines = [
        "Redis round-trip time: one crawling process (`linkgraph crawl --workers 1 --redis "
        "URL`), every Redis call through benchmarks/latency_proxy.py",
        f"{'Redis':>13}{'RTT ms':>8}{'pages':>7}{'wall s':>8}{'pages/s':>9}{'vs direct':>11}"
        f"{'round trips/page':>18}{'commands/page':>15}{'if blocking':>13}{'other load':>12}",
        "-" * 114,
    ]
    base_rtt_s = statistics.mean(r.measured_rtt_ms for r in runs if r.added_rtt_ms is None) / 1000
    for r in runs:
        trips = r.counts.get("round_trips", 0) / max(r.pages, 1)
        # every round trip stalling the whole process: a page costs its direct time plus them
        blocking = 1 / (1 / direct + trips * (r.measured_rtt_ms / 1000 - base_rtt_s))
        commands = sum(r.counts.get("commands", {}).values()) / max(r.pages, 1)
        lines.append(
            f"{r.label:>13}{r.measured_rtt_ms:>8.2f}{r.pages:>7,}{r.cost.wall_s:>8.1f}"
            f"{r.pages_per_s:>9.1f}{r.pages_per_s / direct:>10.0%}"
            f"{trips if r.counts else float('nan'):>18.2f}"
            f"{commands if r.counts else float('nan'):>15.2f}"
            f"{blocking if r.counts else float('nan'):>13.1f}"
            f"{r.other_cpu_s / r.cost.wall_s:>12.2f}"
        )
    lines += commands_per_page(runs)
    lines += [
        "note: pages/s = (pages - 1) / (last - first fetch time); 'vs direct' is against the "
        "mean of the two direct runs; 'RTT ms' is the median PING "
        "from this machine (the proxy adds its own scheduling, some of a millisecond each "
        "way); a round trip is a burst of a client's bytes sent after Redis's last reply on "
        "its connection, one wait; 'if blocking' is the pages/s expected if every round trip "
        "stalls the process, 1 / (1 / direct pages/s + round trips per page x the RTT added); "
        "counts include start-up (job, seeds) and shutdown; 'other load' is cores the rest of "
        "the machine used meanwhile (the bench web included).",
    ]
    return lines


def commands_per_page(runs: list[RttRun]) -> list[str]:
    counted = next((r for r in runs if r.counts and r.added_rtt_ms == 0), None)
    counted = counted or next((r for r in runs if r.counts), None)
    if counted is None:
        return []
    names = script_names()
    lines = ["", f"Redis commands per page ({counted.label}, {counted.pages:,} pages):"]
    for command, n in counted.counts["commands"].items():
        if command.startswith("EVALSHA "):
            sha = command.split()[1]
            command = f"script {names.get(sha, sha[:12])}"
        lines.append(f"  {n / max(counted.pages, 1):>8.2f}  {command}")
    return lines
