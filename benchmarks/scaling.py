"""The scaling benchmark: linkgraph's crawl with 1, 2 and 4 worker processes on one bench web.

    python -m benchmarks.scaling [--pages N | --quick] [--workers 1,2,4] [--rtt-ms 0,2,10]
        [--rtt-pages N] [--keep]

Every run is `linkgraph crawl --workers N` (this process plus N-1 `linkgraph worker`s handing
their rows to it over Redis) from the same seeds to the same page limit, on the bench web the
crawl benchmark serves from a separate process. The scaling ratio is pages/s at N over pages/s
at 1 worker. Then benchmarks/latency.py: one crawling process against Redis directly and
through a proxy adding each --rtt-ms of round-trip time.
"""

from __future__ import annotations

import argparse
import sys
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psutil

from benchmarks import latency, linkgraph_run
from benchmarks.benchweb import serve_bench_web
from benchmarks.harness import (
    cpus,
    machine,
    machine_busy_s,
    python_speed_ms,
    say,
    scratch_dir,
    speed_note,
    timestamp,
    write_results,
)
from benchmarks.measure import SAMPLE_SECONDS, Cost, run_measured, tree_cpu_s
from crawler import settings as linkgraph_settings

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_PAGES = 3000
QUICK_PAGES = 300
DEFAULT_WORKERS = (1, 2, 4)
DEFAULT_RTT_PAGES = 1000
QUICK_RTT_PAGES = 200


class RoleSampler(threading.Thread):
    """CPU per role in the crawl's process tree: the coordinator (which also writes every
    worker's rows to chDB), the `linkgraph worker`s and valkey-server. measure.run_measured
    only splits by executable name, and all the crawling processes are called python."""

    def __init__(self, skip: int) -> None:
        super().__init__(name="role-sampler", daemon=True)
        self.skip = skip  # the bench web server: a child of this process, charged to no run
        self.cpu: dict[int, tuple[str, float]] = {}
        self.done = threading.Event()

    def role(self, proc: psutil.Process) -> str:
        if proc.name().startswith("valkey"):
            return "valkey"
        cmdline = proc.cmdline()
        if not cmdline:
            # A process on its way out has already lost its command line: it keeps the role
            # it had, or a worker's whole CPU would be charged to the coordinator.
            return self.cpu.get(proc.pid, ("coordinator", 0.0))[0]
        return "worker" if "worker" in cmdline else "coordinator"

    def run(self) -> None:
        me = psutil.Process()
        while not self.done.wait(SAMPLE_SECONDS):
            for child in me.children():
                if child.pid == self.skip:
                    continue
                try:
                    procs = [child, *child.children(recursive=True)]
                except psutil.Error:
                    continue
                for proc in procs:
                    try:
                        with proc.oneshot():
                            times, role = proc.cpu_times(), self.role(proc)
                    except psutil.Error:
                        continue  # it ended between listing and reading
                    self.cpu[proc.pid] = (role, times.user + times.system)

    def by_role(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for role, seconds in self.cpu.values():
            out[role] = out.get(role, 0.0) + seconds
        return out


@dataclass(slots=True)
class Measured:
    """One crawl's cost, with what else the machine spent meanwhile."""

    cost: Cost
    server_cpu_s: float  # the bench web's
    machine_cpu_s: float  # every process's: other load shows here
    cpu_by_role: dict[str, float] = field(default_factory=dict)  # sampled: a slight undercount


@dataclass(slots=True)
class Run:
    workers: int
    pages: int
    links: int
    run: Measured
    startup: Measured  # the same command for 1 page: every process's start and stop

    @property
    def wall_s(self) -> float:
        return self.run.cost.wall_s

    @property
    def pages_per_s(self) -> float:
        return self.pages / self.wall_s

    @property
    def cpu_ms_per_page(self) -> float:
        return 1000 * self.run.cost.cpu_s / max(self.pages, 1)

    @property
    def marginal_cpu_ms_per_page(self) -> float:
        """CPU per page once every process is up: the per-page cost of the hand-off."""
        extra = self.run.cost.cpu_s - self.startup.cost.cpu_s
        return 1000 * extra / max(self.pages - 1, 1)

    @property
    def cores_busy(self) -> float:
        """Cores kept busy on average by the crawl and the web server it fetches from."""
        return (self.run.cost.cpu_s + self.run.server_cpu_s) / self.wall_s

    @property
    def other_cores_busy(self) -> float:
        """Cores other processes on the machine kept busy meanwhile (0 on a quiet machine)."""
        other = self.run.machine_cpu_s - self.run.cost.cpu_s - self.run.server_cpu_s
        return max(other, 0.0) / self.wall_s

    def as_dict(self) -> dict[str, Any]:
        return {
            "workers": self.workers,
            "pages": self.pages,
            "links": self.links,
            "wall_s": self.wall_s,
            "cpu_s": self.run.cost.cpu_s,
            "run": asdict(self.run),
            "startup": asdict(self.startup),
            "pages_per_s": self.pages_per_s,
            "cpu_ms_per_page": self.cpu_ms_per_page,
            "marginal_cpu_ms_per_page": self.marginal_cpu_ms_per_page,
            "cores_busy": self.cores_busy,
            "other_cores_busy": self.other_cores_busy,
        }


def crawl(
    workers: int, seeds: Path, hosts: Path, data_dir: Path, pages: int, log: Path, web_pid: int
) -> Measured:
    cmd = linkgraph_run.crawl_command(seeds, hosts, data_dir, pages, workers=workers)
    sampler = RoleSampler(skip=web_pid)
    sampler.start()
    server_cpu, machine_cpu = tree_cpu_s(web_pid), machine_busy_s()
    cost = run_measured(cmd, log=log, cwd=ROOT)
    server_cpu, machine_cpu = tree_cpu_s(web_pid) - server_cpu, machine_busy_s() - machine_cpu
    sampler.done.set()
    sampler.join()
    if cost.returncode != 0:
        tail = log.read_text(errors="replace")[-3000:]
        raise SystemExit(f"crawl with {workers} workers failed (exit {cost.returncode}):\n{tail}")
    return Measured(cost, server_cpu, machine_cpu, sampler.by_role())


def bench(
    args: argparse.Namespace, work: Path
) -> tuple[list[Run], int, list[float], list[latency.RttRun]]:
    say(f"serving the bench web ({args.hosts} hosts x {args.pages_per_host} pages) ...")
    measured: list[tuple[int, Measured, Measured]] = []
    speed = [python_speed_ms()]
    with serve_bench_web(work, hosts=args.hosts, pages_per_host=args.pages_per_host) as web:
        seeds_file, one_seed = work / "bench-seeds", work / "one-seed"
        seeds_file.write_text("\n".join(web.seeds) + "\n", encoding="utf-8")
        one_seed.write_text(web.seeds[0] + "\n", encoding="utf-8")
        # Warm-up: the first interpreter to import Scrapy and chDB reads them from disk.
        say("warm-up run (1 page) ...")
        crawl(1, one_seed, web.hosts_file, work / "data-warm", 1, work / "warm.log", web.pid)
        for n in args.workers:
            say(f"linkgraph --workers {n}: 1 page, then {args.pages} from {len(web.seeds)} seeds")
            startup = crawl(n, one_seed, web.hosts_file, work / f"data-{n}-1", 1,
                            work / f"crawl-{n}-1.log", web.pid)  # fmt: skip
            run = crawl(n, seeds_file, web.hosts_file, work / f"data-{n}", args.pages,
                        work / f"crawl-{n}.log", web.pid)  # fmt: skip
            measured.append((n, run, startup))
        rtt_runs = []
        if args.rtt_ms:
            rtt_runs = latency.bench_rtts(web, seeds_file, args.rtt_pages, args.rtt_ms, work)
    speed.append(python_speed_ms())
    # Read back only after every crawl: chDB loaded into this process would take cores from
    # the runs being measured.
    say("reading each run's index and frontier ...")
    runs = []
    for n, run, startup in measured:
        recorded = linkgraph_run.read_recorded(work / f"data-{n}")
        runs.append(Run(n, recorded.pages, recorded.links, run, startup))
    return runs, len(web.seeds), speed, rtt_runs


def report(args: argparse.Namespace, runs: list[Run], seeds: int, speed: list[float]) -> str:
    base = next((r for r in runs if r.workers == 1), runs[0])
    n_cpus = cpus()
    lines = [
        f"Scaling benchmark: {args.hosts:,} hosts x {args.pages_per_host} pages, {seeds:,} seeds, "
        f"{args.pages:,} pages per run, CONCURRENT_REQUESTS="
        f"{linkgraph_settings.CONCURRENT_REQUESTS} per process, no delay, {n_cpus} CPUs\n"
        f"speed check: {speed_note(speed)}",
        "",
        f"{'workers':>7}{'pages':>7}{'wall s':>8}{'pages/s':>9}{'scaling':>9}{'CPU ms/page':>13}"
        f"{'startup CPU s':>15}{'ms/page after':>15}{'cores busy':>12}{'other load':>12}",
        "-" * 107,
    ]
    for r in runs:
        lines.append(
            f"{r.workers:>7}{r.pages:>7,}{r.wall_s:>8.1f}{r.pages_per_s:>9.1f}"
            f"{r.pages_per_s / base.pages_per_s:>8.2f}x{r.cpu_ms_per_page:>13.2f}"
            f"{r.startup.cost.cpu_s:>15.1f}{r.marginal_cpu_ms_per_page:>15.2f}"
            f"{r.cores_busy:>12.2f}{r.other_cores_busy:>12.2f}"
        )
    lines += ["", "CPU s by process (sampled): coordinator / workers / valkey-server / web server"]
    for r in runs:
        roles = r.run.cpu_by_role
        lines.append(
            f"{r.workers:>7}  {roles.get('coordinator', 0):.1f} / {roles.get('worker', 0):.1f} / "
            f"{roles.get('valkey', 0):.1f} / {r.run.server_cpu_s:.1f}"
        )
    lines += [
        "",
        f"note: scaling = pages/s at N workers / pages/s at {base.workers}. This machine has "
        f"{n_cpus} cores, shared by every crawling process, valkey-server and the bench web "
        f"server, so the ratio is bounded by about {n_cpus}x whatever the design; 'cores busy' is "
        "(crawl CPU + web server CPU) / wall; 'other load' is the cores other processes on the "
        "machine took meanwhile, which a fair comparison needs near 0.",
        "note: 'startup CPU s' is the same command for 1 page (every process started and "
        "stopped); 'ms/page after' is the CPU per page beyond it. The coordinator inserts every "
        "worker's rows into chDB.",
    ]
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.scaling", description=__doc__.split("\n")[0]
    )
    p.add_argument("--pages", type=int, help=f"pages per run (default {DEFAULT_PAGES})")
    p.add_argument("--quick", action="store_true", help=f"a smoke run of {QUICK_PAGES} pages")
    p.add_argument(
        "--workers",
        type=lambda s: tuple(int(n) for n in s.split(",")),
        default=DEFAULT_WORKERS,
        help="comma-separated worker counts (default 1,2,4)",
    )
    p.add_argument(
        "--rtt-ms",
        type=lambda s: tuple(float(n) for n in s.split(",")) if s else (),
        default=latency.DEFAULT_RTTS_MS,
        help="round-trip times added to Redis, comma-separated ms (default 0,2,10; '' for none)",
    )
    p.add_argument("--rtt-pages", type=int, help=f"pages per round-trip run (default "
                   f"{DEFAULT_RTT_PAGES}, --quick {QUICK_RTT_PAGES})")  # fmt: skip
    p.add_argument("--hosts", type=int, default=1000, help="hosts in the bench web")
    p.add_argument("--pages-per-host", type=int, default=200)
    p.add_argument("--keep", action="store_true", help="keep the work directory (data, logs)")
    args = p.parse_args(argv)
    args.pages = args.pages or (QUICK_PAGES if args.quick else DEFAULT_PAGES)
    args.rtt_pages = args.rtt_pages or (QUICK_RTT_PAGES if args.quick else DEFAULT_RTT_PAGES)
    if not args.workers or min(args.workers) < 1:
        p.error("--workers: positive counts, e.g. 1,2,4")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = timestamp()
    with scratch_dir("linkgraph-scaling-", keep=args.keep) as work:
        runs, seeds, speed, rtt_runs = bench(args, work)
    print()
    print(report(args, runs, seeds, speed))
    if rtt_runs:
        print()
        print("\n".join(latency.report_lines(rtt_runs)))
    base = next((r for r in runs if r.workers == 1), runs[0])
    result = {
        "started": started,
        "config": {
            "pages": args.pages,
            "hosts": args.hosts,
            "pages_per_host": args.pages_per_host,
            "seeds": seeds,
            "workers": list(args.workers),
            "concurrent_requests": linkgraph_settings.CONCURRENT_REQUESTS,
        },
        "machine": machine(python_speed_ms=speed),
        "runs": [{**r.as_dict(), "scaling": r.pages_per_s / base.pages_per_s} for r in runs],
        "redis_rtt": {"pages": args.rtt_pages, "runs": [r.as_dict() for r in rtt_runs]},
    }
    write_results(f"scaling-{started}", result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
