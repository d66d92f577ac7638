"""The hand-off benchmark: how many pages of rows one coordinator core absorbs from its workers.

    python -m benchmarks.handoff [--pages N | --quick] [--batch-rows N] [--merges-after] [--keep]

The workers of an embedded-index job hand their batches to the coordinator over a Redis stream
(crawler/handoff.py); the coordinator inserts each into chDB and ends its pages' frontier leases.
Here the batches are made as a worker makes them, from bench web pages (50-150 links each, about
100) parsed by the crawler's own extraction, leased in a real frontier on embedded Valkey, and
queued in the stream. Then a coordinator process pinned to one core drains the stream, and its
CPU (every thread: chDB's inserts and merges, Python, redis-py) is measured. Four ways:

- before: the JSON batches and the driver's insert of Python rows, one insert per batch;
- JSON, read now: batches an older worker left in JSON, drained by this version (one by one);
- Arrow, one per batch: Arrow batches (crawler/columnar.py) inserted as they arrived, one insert
  per batch, as the coordinator did before it joined them;
- Arrow, joined: this version: the batches of one stream read joined (crawler/coalesce.py), up
  to GROUP_ROWS link rows per insert (crawler/coalesce.py).

chDB merges the parts each insert writes in background threads of the same process, on the same
core. Three figures per way, each in CPU per page and pages/s per core:
- drain: the hand-off and the inserts, with the merges chDB ran meanwhile (`--merges-after`:
  none: merges are stopped while draining, so this is the inserts alone);
- +merges: and the merges chDB then ran until it chose none: what the same core spends for
  this volume as chDB schedules it;
- +to one part: and merging what was left into one part per table (OPTIMIZE FINAL): an upper
  bound of the merge work this volume costs. A long crawl merges each row several times (about
  log5 of its parts), larger inserts fewer times, so its cost lies between the two.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import redis

from benchmarks.benchweb import BenchWeb
from benchmarks.harness import (
    cpus,
    machine,
    python_speed_ms,
    say,
    scratch_dir,
    speed_note,
    timestamp,
    write_results,
)
from crawler import settings as defaults
from crawler.columnar import encode
from crawler.extraction import extract
from crawler.frontier import Frontier
from crawler.items import PageItem
from crawler.jobstats import tallies
from crawler.processes.valkey import EmbeddedValkey
from crawler.rows import LINK_COLUMNS, PAGE_COLUMNS, Batch, LinkRow, PageRow, rows_of
from crawler.sinks import ClickHouseSink, retrying, unanswered
from crawler.storage import StorageTarget, connect
from crawler.stream_consumer import GROUP_ROWS, StreamConsumer

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_PAGES = 6000
QUICK_PAGES = 1000
TARGET_PAGES_PER_S = 3000  # issue 10: a coordinator core absorbs at least this much
WAYS = ("before", "json-now", "arrow-single", "arrow")
LABELS = {
    "before": "before: JSON, driver insert",
    "json-now": "JSON, read now",
    "arrow-single": "Arrow, one per batch",
    "arrow": "Arrow, joined",
}
TABLES = ("links", "backlinks_state", "pages")
PORT = 8080  # only written into the pages' URLs; nothing is served
MERGES_WAIT_S = 60.0


@dataclass
class Figures:
    way: str
    pages: int
    links: int
    stream_bytes: int  # the batches as they were in the stream
    encode_cpu_s: float  # the workers' CPU to encode them
    drain_cpu_s: float  # the coordinator's, draining: every thread of its process
    drain_wall_s: float
    merges_cpu_s: float  # ... and for the background merges that followed, until none ran
    final_cpu_s: float  # ... and to merge what was left into one part per table
    inserts: int  # INSERT queries the coordinator ran

    def cpu(self) -> tuple[float, float, float]:
        """CPU s per page: draining, +merges, +to one part."""
        drain = self.drain_cpu_s / self.pages
        merges = drain + self.merges_cpu_s / self.pages
        return drain, merges, merges + self.final_cpu_s / self.pages

    def row(self) -> str:
        figures = "".join(f"{1000 * cpu:>8.3f}{1 / cpu:>8,.0f}" for cpu in self.cpu())
        return (
            f"{LABELS[self.way]:<28}{self.inserts:>8}{figures}"
            f"{self.pages / self.drain_wall_s:>8,.0f}"
            f"{self.stream_bytes / self.pages:>7,.0f}{1e6 * self.encode_cpu_s / self.pages:>7.0f}"
        )


def bench_pages(count: int) -> list[tuple[PageRow, list[LinkRow], str]]:
    """`count` fetched pages, each on its own host (so all are leased at once), as rows."""
    web = BenchWeb(hosts=max(1000, count))
    hosts = web.hosts()
    out = []
    for i in range(count):
        n = (7 * i) % web.pages_per_host
        url = f"http://{hosts[i]}:{PORT}{'/' if n == 0 else f'/p/{n}'}"
        body = web.render(i, n, PORT)
        item = PageItem("bench", url, 1, 200, "text/html", body, fetched_at=time.time())
        item.parsed = extract(body, url)
        page, links = rows_of(item)
        out.append((page, links, url))
    return out


def batches_of(pages: list[tuple[PageRow, list[LinkRow], str]], job: str, rows: int) -> list[Batch]:
    """The pages in batches as the pipeline cuts them at `rows` (LINKGRAPH_BATCH_ROWS)."""
    out, batch = [], Batch()
    for page, links, url in pages:
        batch.add(page._replace(job=job), [link._replace(job=job) for link in links], url)
        if len(batch.links) >= rows or len(batch.pages) >= rows // 10:
            out.append(batch)
            batch = Batch()
    return [*out, batch] if batch.pages else out


def old_json(batch: Batch) -> bytes:
    """A batch as linkgraph encoded it before the Arrow hand-off."""
    rows = [batch.pages, batch.links, batch.fingerprints, batch.token]
    return json.dumps(rows, separators=(",", ":")).encode()


def hand_over(client: redis.Redis, way: str, job: str, batches: list[Batch]) -> tuple[int, float]:
    """Lease the batches' pages and queue the batches, as workers do; (bytes, encode CPU s)."""
    frontier = Frontier(client, job, delay=0.0)
    size, cpu = 0, 0.0
    for batch in batches:
        urls = batch.fingerprints  # the URLs, until the frontier names their entries
        frontier.add((url, 0) for url in urls)
        leased = {e.url: e.fp for e in frontier.pop(len(urls)).entries}
        if len(leased) != len(urls):
            raise SystemExit(f"leased {len(leased)} of {len(urls)} pages")
        batch.fingerprints = [leased[url] for url in urls]
        started = time.process_time()
        payload = encode(batch) if way.startswith("arrow") else old_json(batch)
        cpu += time.process_time() - started
        size += len(payload)
        client.xadd(frontier.keys.rows, {"batch": payload})
    return size, cpu


def driver_insert(sink: ClickHouseSink, frontier: Frontier, batch: Batch) -> None:
    """How the coordinator stored a batch before: the driver encodes the Python rows."""

    def insert() -> None:
        for table, names, rows in (
            ("links", LINK_COLUMNS, batch.links),
            ("pages", PAGE_COLUMNS, batch.pages),
        ):
            sink.client.insert(
                table,
                list(zip(*rows, strict=True)),
                column_names=list(names),
                column_oriented=True,
                settings={"insert_deduplication_token": batch.token},
            )

    retrying(insert)
    frontier.ack(batch.fingerprints, unanswered(batch), tallies(batch))


def coordinator(config: dict[str, Any]) -> dict[str, float]:
    """Drain the job's stream into a new chDB index (run pinned to one core)."""
    client = redis.Redis.from_url(config["redis"])
    frontier = Frontier(client, config["job"], delay=0.0)
    sink = ClickHouseSink(connect(StorageTarget("", Path(config["data"]))))
    record = None
    if config["way"] == "before":
        record = lambda batch: driver_insert(sink, frontier, batch)  # noqa: E731
    group_rows = GROUP_ROWS if config["way"] == "arrow" else 0
    consumer = StreamConsumer(client, frontier.keys.rows, sink, frontier, record, group_rows)
    inserts = insert_queries(sink)
    if config["merges_after"]:
        sink.client.command("SYSTEM STOP MERGES")
    wall, cpu = time.perf_counter(), time.process_time()
    while consumer.pages < config["pages"]:
        consumer.drain(block_ms=None)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    settled = time.process_time()
    if config["merges_after"]:
        sink.client.command("SYSTEM START MERGES")
    time.sleep(1.0)  # for the merges the last inserts call for to be chosen
    deadline = time.monotonic() + MERGES_WAIT_S
    while time.monotonic() < deadline:
        running = sink.client.command("SELECT count() FROM system.merges")
        if not running:
            break
        time.sleep(0.2)
    merges = time.process_time() - settled
    inserts = insert_queries(sink) - inserts
    settled = time.process_time()
    for table in TABLES:  # one part left alone: optimize_skip_merged_partitions
        sink.client.command(
            f"OPTIMIZE TABLE {table} FINAL SETTINGS optimize_skip_merged_partitions = 1"
        )
    final = time.process_time() - settled
    stored = sink.client.query("SELECT (SELECT count() FROM pages), (SELECT count() FROM links)")
    sink.close()
    pages, links = stored.result_rows[0]
    if client.hlen(frontier.keys.leases) or (pages, links) != (config["pages"], config["links"]):
        raise SystemExit(f"{config['way']}: stored {pages} pages, {links} links, not exactly all")
    return {
        "drain_cpu_s": cpu,
        "drain_wall_s": wall,
        "merges_cpu_s": merges,
        "final_cpu_s": final,
        "inserts": inserts,
    }


def insert_queries(sink: ClickHouseSink) -> int:
    """INSERT queries this process has run (chDB's counters are the process's)."""
    count = sink.client.command("SELECT value FROM system.events WHERE event = 'InsertQuery'")
    return int(str(count or 0))


def run_coordinator(config: dict[str, Any], core: int) -> dict[str, Any]:
    """`coordinator` in its own process, pinned to `core` from its first instruction on."""
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.handoff", "--coordinator", json.dumps(config)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        preexec_fn=lambda: os.sched_setaffinity(0, {core}),
        check=False,
    )
    if proc.returncode:
        raise SystemExit(f"the coordinator failed:\n{proc.stderr[-3000:]}")
    figures: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return figures


def bench(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    speed = [python_speed_ms()]
    say(f"parsing {args.pages:,} bench web pages ...")
    pages = bench_pages(args.pages)
    links = sum(len(page_links) for _, page_links, _ in pages)
    core = max(os.sched_getaffinity(0))
    warm_up = batches_of(pages[:100], "warm-up", args.batch_rows)[0]
    encode(warm_up)  # the first Arrow encode in a process sets up its codecs (~30 ms)
    old_json(warm_up)
    results = []
    with EmbeddedValkey(work / "valkey") as server:
        client = redis.Redis.from_url(server.url)
        for way in args.ways:
            say(f"{LABELS[way]}: handing over, then draining on core {core} ...")
            job = f"handoff-{way}"
            batches = batches_of(pages, job, args.batch_rows)
            size, encode_cpu = hand_over(client, way, job, batches)
            config = {"redis": server.url, "job": job, "way": way, "data": str(work / way),
                      "pages": len(pages), "links": links,
                      "merges_after": args.merges_after}  # fmt: skip
            drained = run_coordinator(config, core)
            results.append(Figures(way, len(pages), links, size, encode_cpu, **drained))
        client.close()
    speed.append(python_speed_ms())
    return {"python_speed_ms": speed, "batches": len(batches), "ways": results}


def report(args: argparse.Namespace, out: dict[str, Any]) -> str:
    ways: list[Figures] = out["ways"]
    first = ways[0]
    drained = "inserts alone (merges stopped)" if args.merges_after else "with merges meanwhile"
    lines = [
        f"Hand-off benchmark: {first.pages:,} bench web pages, {first.links:,} links "
        f"({first.links / first.pages:.1f} per page) in {out['batches']} batches "
        f"(LINKGRAPH_BATCH_ROWS={args.batch_rows:,}); one "
        f"coordinator process pinned to one core, chDB embedded; {cpus()} CPUs; chDB's "
        f"merges {'stopped while draining, run after' if args.merges_after else 'running'}",
        f"speed check: {speed_note(out['python_speed_ms'])}",
        "",
        f"{'':<28}{'':>8}{'drain':>16}{'+merges':>16}{'+to one part':>16}{'pages/s':>8}"
        f"{'bytes':>7}{'encode':>7}",
        f"{'hand-off':<28}{'inserts':>8}{' ms/page /s/core' * 3}{'wall':>8}{'/page':>7}{'us':>7}",
        "-" * 106,
        *(way.row() for way in ways),
        "",
        f"drain: the coordinator's whole process (chDB's threads, Python, redis-py), {drained}; "
        "+merges: and chDB's merges after, until it chose none; +to one part: and merging the "
        "rest into one part per table (an upper bound). ms/page: CPU; /s/core: pages per "
        "second of one core, 1 / that. inserts: INSERT queries. pages/s wall: draining, on its "
        "one core with whatever else the machine ran. bytes: the batches in the stream; "
        "encode: the workers' CPU to encode, us a page.",
    ]
    for way in ways:
        if way.way == "arrow":
            for name, cpu in zip(("drain", "+merges", "+to one part"), way.cpu(), strict=True):
                met = "met" if 1 / cpu >= TARGET_PAGES_PER_S else "NOT met"
                lines.append(
                    f"target: one core absorbs {TARGET_PAGES_PER_S:,} pages/s, {name}: {met} "
                    f"({1 / cpu:,.0f} pages/s per core)"
                )
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.handoff", description=__doc__.split("\n")[0]
    )
    p.add_argument("--pages", type=int, help=f"pages handed over (default {DEFAULT_PAGES:,})")
    p.add_argument("--quick", action="store_true", help=f"a smoke run of {QUICK_PAGES:,} pages")
    p.add_argument(
        "--batch-rows",
        type=int,
        default=defaults.LINKGRAPH_BATCH_ROWS,
        help="link rows per batch, as LINKGRAPH_BATCH_ROWS (default %(default)s)",
    )
    p.add_argument("--ways", default=",".join(WAYS), help="hand-offs compared (%(default)s)")
    p.add_argument(
        "--merges-after",
        action="store_true",
        help="stop chDB's background merges while draining, run them after",
    )
    p.add_argument("--keep", action="store_true", help="keep the work directory")
    p.add_argument("--coordinator", help=argparse.SUPPRESS)  # the drained side, in a child
    args = p.parse_args(argv)
    args.pages = args.pages or (QUICK_PAGES if args.quick else DEFAULT_PAGES)
    if args.pages < 1 or args.batch_rows < 10:
        p.error("--pages: at least 1; --batch-rows: at least 10")
    args.ways = args.ways.split(",")
    if not args.ways or not set(args.ways) <= set(WAYS):
        p.error(f"--ways: some of {','.join(WAYS)}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.coordinator:
        print(json.dumps(coordinator(json.loads(args.coordinator))))
        return 0
    started = timestamp()
    with scratch_dir("linkgraph-handoff-bench-", keep=args.keep) as work:
        out = bench(args, work)
    print()
    print(report(args, out))
    result = {
        "started": started,
        "config": {
            "pages": args.pages,
            "batch_rows": args.batch_rows,
            "merges_after": args.merges_after,
        },
        "machine": machine(),
        "python_speed_ms": out["python_speed_ms"],
        "ways": [asdict(way) for way in out["ways"]],
    }
    write_results(f"handoff-{started}", result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
