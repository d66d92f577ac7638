"""The frontier benchmark: the Redis frontier alone, through its Lua scripts, on embedded Valkey.

    python -m benchmarks.frontier [--urls N] [--hosts N] [--partitions 1,4,16] [--quick]

One client (this process) pushes N generated canonical URLs over many hosts, re-adds them (all
seen), then pops, releases and acks every one with no delay, as a worker does. Each step is timed
on the wall clock, with the CPU of this process (hashing, JSON, redis-py) and of valkey-server
(the Lua) charged separately, and Redis memory is read while everything is queued and again once
only the seen set and per-host bookkeeping remain. Then, on fresh jobs of 1, 4 and 16 frontier
partitions (a quarter of the URLs each), adds and pops per second, and the script calls they
took: on one server, partitions only cost (each page's links become one call per partition they
fall in, in one pipelined round trip); on a cluster they spread one job over its nodes. Last,
the dedupe: Redis bytes per seen URL and adds per second of the exact set and of a Bloom filter
at 1% and 0.1%, on a quarter of the URLs (benchmarks/dedupe.py).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

import psutil
import redis

from benchmarks.dedupe import dedupe_sweep
from benchmarks.dedupe import report_lines as dedupe_report
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
from crawler.frontier import Frontier
from crawler.processes.valkey import EmbeddedValkey
from crawler.urls import host_of

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_URLS = 1_000_000
QUICK_URLS = 100_000
BATCH = 100  # links queued per page: one Frontier.add per page
SINGLES = 20  # 1 in this many more URLs is pushed one per call, to show what batching saves
POP_BATCH = 16
PARTITIONS = "1,4,16"  # frontier partitions compared (--partitions)
PINGS = 20_000
JOB = "bench"

SECTIONS = ["news", "blog", "products", "docs", "wiki", "forum/thread", "tag", "2024/11", "p"]
WORDS = ["linked", "graph", "crawl", "page", "site", "index", "rank", "home", "about", "guide"]


def make_urls(count: int, hosts: int, seed: int = 1) -> list[str]:
    """`count` distinct canonical URLs, each on a random one of `hosts` hosts, in random order
    (so one batch of 100, like one page's links, spans many hosts)."""
    rng = random.Random(seed)
    names = [f"www.site{h:05d}.example" for h in range(hosts)]
    urls = []
    for i in range(count):
        slug = "-".join(rng.choices(WORDS, k=rng.randint(1, 4)))
        query = f"?page={rng.randint(2, 9)}" if rng.random() < 0.2 else ""
        urls.append(f"https://{rng.choice(names)}/{rng.choice(SECTIONS)}/{slug}-{i}{query}")
    return urls


def batches(urls: list[str], size: int = BATCH) -> Iterator[list[tuple[str, int]]]:
    for i in range(0, len(urls), size):
        yield [(url, 1) for url in urls[i : i + size]]


@dataclass(slots=True)
class Step:
    name: str
    urls: int  # URLs pushed or entries popped
    calls: int  # round trips to Redis
    wall_s: float
    client_cpu_s: float  # this process
    server_cpu_s: float  # valkey-server itself
    aof_cpu_s: float  # its append-only-file rewrites (forked children, counted once reaped)
    machine_cpu_s: float  # every process on the machine: other load shows here

    @property
    def other_cores(self) -> float:
        """Cores other processes kept busy meanwhile (near 0 on a quiet machine)."""
        ours = self.client_cpu_s + self.server_cpu_s + self.aof_cpu_s
        return max(self.machine_cpu_s - ours, 0.0) / self.wall_s

    @property
    def per_s(self) -> float:
        return self.urls / self.wall_s

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "per_s": self.per_s, "other_cores": self.other_cores}


class Meter:
    """Times steps, charging the CPU of this process and of the Valkey server separately."""

    def __init__(self, server_pid: int) -> None:
        self.server = psutil.Process(server_pid)
        self.steps: list[Step] = []

    def _readings(self) -> tuple[float, ...]:
        """(wall, client CPU, server CPU, AOF rewrite CPU, machine CPU) so far, in seconds."""
        server = self.server.cpu_times()
        return (
            time.perf_counter(),
            time.process_time(),
            server.user + server.system,
            server.children_user + server.children_system,
            machine_busy_s(),
        )

    def run(self, name: str, body: Callable[[], tuple[int, int]]) -> Step:
        say(f"  {name} ...")
        before = self._readings()
        urls, calls = body()
        spent = (b - a for a, b in zip(before, self._readings(), strict=True))
        step = Step(name, urls, calls, *spent)
        self.steps.append(step)
        return step

    @property
    def aof_cpu_s(self) -> float:
        return sum(step.aof_cpu_s for step in self.steps)


# -- the steps ---------------------------------------------------------------------------------
def ping(client: redis.Redis, count: int) -> tuple[int, int]:
    """The floor under every step: one round trip that does nothing."""
    for _ in range(count):
        client.ping()
    return count, count


def add_all(frontier: Frontier, urls: list[str]) -> tuple[int, int]:
    calls = 0
    for batch in batches(urls):
        frontier.add(batch)
        calls += 1
    return len(urls), calls


def add_singly(frontier: Frontier, urls: list[str]) -> tuple[int, int]:
    """One URL per call, as seeds are pushed: what batching a page's links saves."""
    for url in urls:
        frontier.add([(url, 1)])
    return len(urls), len(urls)


def pop_one(frontier: Frontier, limit: int) -> tuple[int, int]:
    """A worker's path: pop one, release its host once fetched, ack it once recorded."""
    done = calls = 0
    while done < limit:
        popped = frontier.pop(1)
        calls += 1
        if not popped.entries:
            break
        entry = popped.entries[0]
        frontier.release(host_of(entry.url))
        frontier.ack([entry.fp])
        calls += 2
        done += 1
    return done, calls


def pop_merged(frontier: Frontier, limit: int) -> tuple[int, int]:
    """pop(1) and ack, each host's release carried in the round trip of the next pop."""
    popped, calls, done = frontier.pop(1), 1, 0
    while popped.entries:
        entry = popped.entries[0]
        frontier.ack([entry.fp])
        done += 1
        calls += 2
        if done >= limit:
            frontier.release(host_of(entry.url))
            break
        _, popped = frontier.release_and_pop(host_of(entry.url), 1)
    return done, calls


def pop_batched(frontier: Frontier, limit: int) -> tuple[int, int]:
    """pop(16), a release per entry, one ack for the 16 (as a sink acks a flushed batch)."""
    done = calls = 0
    while done < limit:
        popped = frontier.pop(POP_BATCH)
        calls += 1
        if not popped.entries:
            break
        for entry in popped.entries:
            frontier.release(host_of(entry.url))
        frontier.ack([e.fp for e in popped.entries])
        calls += len(popped.entries) + 1
        done += len(popped.entries)
    return done, calls


def script_calls(client: redis.Redis) -> int:
    """Lua script calls the server has run so far (EVALSHA, or EVAL from a cluster pipeline)."""
    stats = client.info("commandstats")
    return sum(
        int(stats.get(f"cmdstat_{name}", {}).get("calls", 0)) for name in ("evalsha", "eval")
    )


def partition_sweep(
    client: redis.Redis, meter: Meter, urls: list[str], counts: list[int]
) -> list[dict[str, Any]]:
    """Adds and pops per second on a fresh job of each partition count, and the script calls
    each URL took."""
    rows = []
    for count in counts:
        frontier = Frontier(client, f"{JOB}-p{count}", delay=0.0, partitions=count)
        before = script_calls(client)
        add = meter.run(f"P={count}: add, {BATCH} per call", partial(add_all, frontier, urls))
        added = script_calls(client)
        pop = meter.run(
            f"P={count}: pop({POP_BATCH}) + release + ack",
            partial(pop_batched, frontier, len(urls)),
        )
        stats = frontier.stats()
        if stats["queued"] or stats["leased"] or stats["recorded"] != len(urls):
            raise SystemExit(f"the P={count} frontier did not drain as expected: {stats}")
        rows.append({
            "partitions": count,
            "adds_per_s": add.per_s,
            "pops_per_s": pop.per_s,
            "add_scripts_per_page": (added - before) / add.calls,
            "pop_scripts_per_entry": (script_calls(client) - added) / pop.urls,
        })  # fmt: skip
    return rows


# -- memory ------------------------------------------------------------------------------------
def used_memory(client: redis.Redis) -> int:
    return int(client.info("memory")["used_memory"])


def key_bytes(client: redis.Redis, key: str) -> int:
    return int(client.memory_usage(key, samples=0) or 0)  # samples=0: every element counted


def queue_bytes(client: redis.Redis, frontier: Frontier) -> tuple[int, int]:
    """(number of host queues, their total MEMORY USAGE), found with SCAN."""
    count = total = 0
    for key in client.scan_iter(match=frontier.keys.queue("*"), count=1000):
        count += 1
        total += key_bytes(client, key)
    return count, total


def queued_memory(client: redis.Redis, frontier: Frontier, delta: int, urls: int) -> dict[str, Any]:
    hosts, queues = queue_bytes(client, frontier)
    return {
        "used_memory_delta": delta,
        "per_queued_request": delta / urls,
        "queued": urls,
        "seen_set": key_bytes(client, frontier.keys.seen),
        "host_queues": queues,
        "host_queue_count": hosts,
        "due": key_bytes(client, frontier.keys.due),
        "host_count": key_bytes(client, frontier.keys.host_count),
    }


def seen_memory(client: redis.Redis, frontier: Frontier, delta: int, seen: int) -> dict[str, Any]:
    seen_set = key_bytes(client, frontier.keys.seen)
    return {
        "used_memory_delta": delta,
        "per_seen_url": delta / seen,
        "seen_urls": seen,
        "seen_set": seen_set,
        "seen_set_per_url": seen_set / seen,
        "next_at": key_bytes(client, frontier.keys.next_at),
        "host_count": key_bytes(client, frontier.keys.host_count),
    }


# -- the run -----------------------------------------------------------------------------------
def bench(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    speed = [python_speed_ms()]
    say(f"generating {args.urls:,} URLs over {args.hosts:,} hosts ...")
    urls = make_urls(args.urls + args.urls // SINGLES, args.hosts)
    urls, singles = urls[: args.urls], urls[args.urls :]
    server = EmbeddedValkey(work)
    server.start()
    try:
        assert server.process is not None
        client = redis.Redis.from_url(server.url)
        version = str(client.info("server")["valkey_version"])
        meter = Meter(server.process.pid)
        # delay 0: every host is due again as soon as it is released, so pops never wait.
        frontier = Frontier(client, JOB, delay=0.0)
        empty = used_memory(client)

        meter.run("PING (round trips/s, for scale)", lambda: ping(client, PINGS))
        say("pushing ...")
        meter.run(f"add, {BATCH} URLs per call", lambda: add_all(frontier, urls))
        queued = queued_memory(client, frontier, used_memory(client) - empty, len(urls))
        meter.run(f"re-add, all seen, {BATCH} per call", lambda: add_all(frontier, urls))
        meter.run("add, 1 URL per call", lambda: add_singly(frontier, singles))

        say("popping ...")
        total = len(urls) + len(singles)
        # pop(1) is the slowest; a quarter of the entries is plenty to time it.
        meter.run("pop(1) + release + ack, per entry", lambda: pop_one(frontier, total // 4))
        meter.run("release_and_pop(1) + ack, per entry", lambda: pop_merged(frontier, total // 4))
        meter.run(
            f"pop({POP_BATCH}) + release each + ack {POP_BATCH}",
            lambda: pop_batched(frontier, total),
        )
        stats = frontier.stats()
        if stats["queued"] or stats["leased"] or stats["recorded"] != total:
            raise SystemExit(f"the frontier did not drain as expected: {stats}")
        seen = seen_memory(client, frontier, used_memory(client) - empty, stats["seen"])
        say("partitions ...")
        sweep = partition_sweep(client, meter, urls[: len(urls) // 4], args.partitions)
        say("dedupe ...")
        dedupe = dedupe_sweep(client, meter.run, add_all, urls[: len(urls) // 4])
        persistence = client.info("persistence")
        client.close()
    finally:
        server.stop()
    speed.append(python_speed_ms())
    return {
        "python_speed_ms": speed,
        "valkey": version,
        "mean_url_chars": sum(map(len, urls)) / len(urls),
        "steps": meter.steps,
        "queued": queued,
        "seen": seen,
        "partitions": sweep,
        "dedupe": dedupe,
        "aof_rewrites": int(persistence.get("aof_rewrites", 0)),
        "aof_cpu_s": meter.aof_cpu_s,
    }


def report(args: argparse.Namespace, out: dict[str, Any]) -> str:
    steps: list[Step] = out["steps"]
    q, s = out["queued"], out["seen"]
    lines = [
        f"Frontier benchmark: {args.urls:,} URLs (mean {out['mean_url_chars']:.0f} chars) over "
        f"{args.hosts:,} hosts; Valkey {out['valkey']} embedded (AOF everysec, "
        f"{out['aof_rewrites']} AOF rewrites took {out['aof_cpu_s']:.1f} s CPU); one client; "
        f"{cpus()} CPUs\nspeed check: {speed_note(out['python_speed_ms'])}",
        "",
        f"{'step':<42}{'per s':>10}{'round trips':>13}{'client us each':>15}{'Valkey us each':>15}"
        f"{'other load':>12}",
        "-" * 107,
    ]
    for st in steps:
        lines.append(
            f"{st.name:<42}{st.per_s:>10,.0f}{st.calls:>13,}"
            f"{1e6 * st.client_cpu_s / st.urls:>15.1f}{1e6 * st.server_cpu_s / st.urls:>15.1f}"
            f"{st.other_cores:>12.2f}"
        )
    lines += [
        "",
        f"Redis memory while all {args.urls:,} are queued: {q['per_queued_request']:.0f} bytes "
        f"per queued request (used_memory +{q['used_memory_delta'] / 2**20:.1f} MiB): "
        f"host queues {q['host_queues'] / args.urls:.0f} B/URL over {q['host_queue_count']:,} "
        f"keys, seen set {q['seen_set'] / args.urls:.1f} B/URL, due "
        f"{q['due'] / 2**10:.0f} KiB, host_count {q['host_count'] / 2**10:.0f} KiB",
        f"Redis memory once all are popped and acked: {s['per_seen_url']:.1f} bytes per seen URL "
        f"(used_memory +{s['used_memory_delta'] / 2**20:.1f} MiB); seen set alone "
        f"{s['seen_set_per_url']:.1f} B/URL (MEMORY USAGE {s['seen_set']:,} B / SCARD "
        f"{s['seen_urls']:,}); next_at {s['next_at'] / 2**10:.0f} KiB, host_count "
        f"{s['host_count'] / 2**10:.0f} KiB",
        "note: one client, so each figure is one connection's rate; the client's Python (hashing, "
        "JSON, redis-py) and the server's Lua share the machine's cores. 'other load': cores "
        "other processes took meanwhile (near 0 for a clean run).",
        "",
        f"Frontier partitions, on this one server, {args.urls // 4:,} URLs each (a fresh job):",
        f"{'partitions':>10}{'adds/s':>10}{'pops/s':>10}{'scripts per page':>18}"
        f"{'scripts per pop':>17}",
    ]
    for row in out["partitions"]:
        lines.append(
            f"{row['partitions']:>10}{row['adds_per_s']:>10,.0f}{row['pops_per_s']:>10,.0f}"
            f"{row['add_scripts_per_page']:>18.1f}{row['pop_scripts_per_entry']:>17.2f}"
        )
    lines += ["", *dedupe_report(out["dedupe"])]
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.frontier", description=__doc__.split("\n")[0]
    )
    p.add_argument("--urls", type=int, help=f"URLs to push (default {DEFAULT_URLS:,})")
    p.add_argument("--quick", action="store_true", help=f"a smoke run of {QUICK_URLS:,} URLs")
    p.add_argument("--hosts", type=int, default=10_000, help="hosts the URLs are spread over")
    p.add_argument("--partitions", default=PARTITIONS, help="frontier partitions compared")
    args = p.parse_args(argv)
    try:
        args.partitions = [int(n) for n in args.partitions.split(",")]
    except ValueError:
        p.error(f"--partitions: give counts like {PARTITIONS}")
    if not all(1 <= n <= 1024 for n in args.partitions):
        p.error("--partitions: each count is 1 to 1024")
    args.urls = args.urls or (QUICK_URLS if args.quick else DEFAULT_URLS)
    if args.urls < 4 or args.hosts < 1:
        p.error("need at least 4 URLs and 1 host")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = timestamp()
    with scratch_dir("linkgraph-frontier-bench-") as work:
        out = bench(args, work)
    print()
    print(report(args, out))
    result = {
        "started": started,
        "config": {
            "urls": args.urls,
            "hosts": args.hosts,
            "batch": BATCH,
            "singles": args.urls // SINGLES,
            "pop_batch": POP_BATCH,
        },
        "machine": machine(valkey=out["valkey"]),
        "mean_url_chars": out["mean_url_chars"],
        "aof_rewrites": out["aof_rewrites"],
        "aof_cpu_s": out["aof_cpu_s"],
        "python_speed_ms": out["python_speed_ms"],
        "steps": [st.as_dict() for st in out["steps"]],
        "memory_queued": out["queued"],
        "memory_seen": out["seen"],
        "partitions": out["partitions"],
        "dedupe": out["dedupe"],
    }
    write_results(f"frontier-{started}", result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
