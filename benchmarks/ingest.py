"""The WARC benchmark: what archiving costs a crawl, and how fast `ingest-warc` builds the index.

    python -m benchmarks.ingest [--pages N] [--quick] [--keep DIR]

Bench-web pages (benchmarks/benchweb.py: 20-60 KB, 50-150 links) are archived as a crawl
archives them (crawler/warc: a request and a response record per page, one gzip member each)
at gzip levels 1, 3 (the default LINKGRAPH_WARC_GZIP_LEVEL), 6 and 9 (warcio's own). Reported:
the writer's CPU per page and the bytes per page on disk. Then `linkgraph ingest-warc` reads
the default level's files back with one worker process: pages per second per core (all the CPU
the command used: reading, decoding, extraction, rows, their hand-over and the inserts into
chDB) and of wall time; the same once started (the difference with a run of a fifth of the
pages, which takes out the start's fixed cost: imports, opening chDB, its migrations); the
reading worker's own rate; and the CPU a page of the one process that writes to chDB (which
bounds a run whatever its number of workers).
"""

from __future__ import annotations

import argparse
import gc
import resource
import sys
import time
from io import StringIO
from pathlib import Path
from typing import Any

from benchmarks.benchweb import BenchWeb
from benchmarks.harness import (
    machine,
    python_speed_ms,
    say,
    scratch_dir,
    speed_note,
    timestamp,
    write_results,
)
from crawler import USER_AGENT, settings
from crawler.storage import StorageTarget
from crawler.warc.capture import Exchange, exchange_records
from crawler.warc.coordinator import ingest
from crawler.warc.files import WarcFiles
from crawler.warc.ingest import quiet_collector, read_file
from crawler.warc.pages import PageBuilder

PORT = 8080
REQUEST_HEADERS = [
    (b"Accept", b"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
    (b"Accept-Language", b"en"),
    (b"User-Agent", USER_AGENT.encode()),
    (b"Accept-Encoding", b"gzip, deflate, br, zstd"),
]


def exchanges(web: BenchWeb, pages: int) -> list[Exchange]:
    per_host = web.pages_per_host
    found = []
    for k in range(pages):
        host, n = k % len(web.hosts()), (k // len(web.hosts())) % per_host
        name = web.hosts()[host]
        body = web.render(host, n, PORT)
        path = "/" if n == 0 else f"/p/{n}"
        headers = [(b"Content-Type", b"text/html; charset=utf-8"), (b"Server", b"bench"),
                   (b"Content-Length", str(len(body)).encode())]  # fmt: skip
        found.append(
            Exchange(
                "GET",
                f"http://{name}:{PORT}{path}",
                REQUEST_HEADERS,
                200,
                "HTTP/1.1",
                headers,
                body,
                "127.0.0.1",
                1_767_225_600.0 + k,
            )
        )
    return found


def archive(work: Path, pages: list[Exchange], level: int) -> dict[str, Any]:
    files = WarcFiles(work / f"level{level}", "bench", max_bytes=settings.LINKGRAPH_WARC_MAX_BYTES,
                      gzip_level=level, info={"software": "bench"})  # fmt: skip
    started = time.process_time()
    for exchange in pages:
        files.write(*exchange_records(files.builder, exchange, None, {"WARC-Linkgraph-Depth": "1"}))
    cpu = time.process_time() - started
    files.cdxj = False  # the index is written once per file, not per page
    files.close()
    size = sum(p.stat().st_size for p in files.closed)
    return {
        "level": level,
        "writer_ms_per_page": 1000 * cpu / len(pages),
        "bytes_per_page": size / len(pages),
        "body_bytes_per_page": sum(len(e.body) for e in pages) / len(pages),
        "files": [str(p) for p in files.closed],
    }


def read_only(paths: list[Path]) -> float:
    """CPU seconds of the worker's part alone (read, decode, extract, rows), in this process,
    with the collector set as a worker sets it (and set back after: this process writes next)."""
    builder = PageBuilder("bench")
    thresholds = gc.get_threshold()
    quiet_collector()
    started = time.process_time()
    for path in paths:
        read_file(builder, path, str(path), settings.DOWNLOAD_MAXSIZE, lambda message: None)
    cpu = time.process_time() - started
    gc.unfreeze()
    gc.set_threshold(*thresholds)
    return cpu


def run_ingest(work: Path, paths: list[Path]) -> tuple[float, float, float]:
    """(CPU of the whole command, its wall time, CPU of the process writing to chDB) of one
    `ingest-warc` run with one worker process into a fresh data dir."""
    writer_before, workers_before = cpu_seconds()
    wall = time.perf_counter()
    ingest(paths, "bench", StorageTarget("", work / "data"), processes=1,
           max_record_bytes=settings.DOWNLOAD_MAXSIZE, state_path=work / "state.jsonl",
           progress_seconds=0, out=StringIO())  # fmt: skip
    wall = time.perf_counter() - wall
    writer_after, workers_after = cpu_seconds()
    writer_cpu = writer_after - writer_before
    return writer_cpu + workers_after - workers_before, wall, writer_cpu


def cpu_seconds() -> tuple[float, float]:
    """CPU of this process (the one writing to chDB, its threads included) and of its finished
    children (the ingest workers)."""
    own, children = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime, children.ru_utime + children.ru_stime


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.ingest", description=__doc__)
    p.add_argument("--pages", type=int, default=5000, help="bench-web pages (default 5,000)")
    p.add_argument("--quick", action="store_true", help="a smoke run of 500 pages")
    p.add_argument("--keep", action="store_true", help="keep the work directory")
    args = p.parse_args(argv)
    total = 500 if args.quick else args.pages
    started = timestamp()
    speeds = [python_speed_ms()]
    web = BenchWeb(hosts=200, pages_per_host=200)
    with scratch_dir("lg-ingest-bench-", keep=args.keep) as work:
        say(f"rendering {total:,} bench-web pages")
        pages = exchanges(web, total)
        say("archiving them")
        levels = sorted({1, 3, 6, 9, settings.LINKGRAPH_WARC_GZIP_LEVEL})
        written = [archive(work, pages, level) for level in levels]
        default = levels.index(settings.LINKGRAPH_WARC_GZIP_LEVEL)
        paths = [Path(f) for f in written[default]["files"]]
        say("reading them back in this process")
        worker_cpu = read_only(paths)
        say("linkgraph ingest-warc with one worker process")
        cpu, wall, writer_cpu = run_ingest(work / "whole", paths)
        # The same on a fifth of the pages: what the two runs differ by is what pages cost, once
        # the fixed start (imports, opening chDB, its migrations) is taken out.
        small = archive(work / "small", pages[: total // 5], settings.LINKGRAPH_WARC_GZIP_LEVEL)
        small_cpu, _, _ = run_ingest(work / "small", [Path(f) for f in small["files"]])
        marginal = (total - total // 5) / (cpu - small_cpu)
    speeds.append(python_speed_ms())
    result = {
        "pages": total,
        "archive": [{k: v for k, v in w.items() if k != "files"} for w in written],
        "ingest_pages_per_s_per_core": total / cpu,
        "ingest_pages_per_s_wall": total / wall,
        "ingest_pages_per_s_per_core_started": marginal,
        "ingest_start_cpu_s": cpu - total / marginal,
        "worker_pages_per_s_per_core": total / worker_cpu,
        "writer_ms_per_page": 1000 * writer_cpu / total,
        "machine": machine(python_speed_ms=speeds),
    }
    out = sys.stdout
    out.write(f"{total:,} bench-web pages ({written[0]['body_bytes_per_page'] / 1000:.1f} KB "
              "of HTML each)\n")  # fmt: skip
    for w in written:
        out.write(f"  WARC writer at gzip level {w['level']}: {w['writer_ms_per_page']:.2f} ms "
                  f"CPU and {w['bytes_per_page'] / 1000:.1f} KB on disk per page\n")  # fmt: skip
    per_core, wall_rate = result["ingest_pages_per_s_per_core"], result["ingest_pages_per_s_wall"]
    out.write(f"  ingest-warc, one worker process: {per_core:,.0f} pages/s per core (CPU of the "
              "whole command, its worker and the inserts; target: 2,000), "
              f"{wall_rate:,.0f} pages/s of wall time\n")  # fmt: skip
    out.write(f"    once started: {marginal:,.0f} pages/s per core (a run of {total // 5:,} pages "
              f"against this one; the start costs {result['ingest_start_cpu_s']:.1f} s of CPU "
              "whatever the run's size)\n")  # fmt: skip
    worker = result["worker_pages_per_s_per_core"]
    out.write(f"    of which the worker alone: {worker:,.0f} pages/s of CPU (read, decode, "
              "extract, rows)\n")  # fmt: skip
    out.write(f"    and the process writing to chDB: {result['writer_ms_per_page']:.2f} ms of CPU "
              "a page (its start included; one such process per run)\n")  # fmt: skip
    out.write(f"  {speed_note(speeds)}\n")
    write_results(f"ingest-{total}-{started}", result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
