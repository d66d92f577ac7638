"""The link-index benchmark: generated links inserted through the crawler's writer, then the
operators' queries timed on the result.

    python -m benchmarks.index [--links N | --quick] [--keep DIR]

Rows are generated per batch of LINKGRAPH_BATCH_ROWS links (the crawler's insert size) and go
through `crawler.sinks.insert_rows`, the function the crawler's pipeline calls, into an embedded
chDB index. Reported: links inserted per second (time inside the writer only), bytes on disk per
link (every table of the index, materialized states included), and the median latency of the
profile, backlinks-of-a-domain, intersect, top and top-pages queries, as the CLI runs them.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.harness import timestamp, write_results
from crawler import settings
from crawler.reports import run_report
from crawler.sinks import insert_rows
from crawler.storage import StorageTarget, connect

LINKS_PER_PAGE = 50
RUNS = 7


def domain_name(i: int) -> str:
    return f"site{i}.example{'.co.uk' if i % 7 == 0 else '.com'}"


def generate(batch: int, start_page: int, domains: int, rng: np.random.Generator) -> tuple:
    """Pages and links of `batch // LINKS_PER_PAGE` source pages: targets drawn from a
    power law over domains (a few domains get most links), a tenth of them internal."""
    pages, links = [], []
    now = time.time()
    n_pages = batch // LINKS_PER_PAGE
    src_domains = rng.integers(0, domains, n_pages)
    dst = np.minimum((domains * rng.random(batch) ** 3).astype(np.int64), domains - 1)
    dst_page = rng.integers(0, 50, batch)
    rel = rng.random(batch)
    for p in range(n_pages):
        sd = domain_name(int(src_domains[p]))
        host = f"www.{sd}"
        url = f"https://{host}/page/{start_page + p}"
        for k in range(p * LINKS_PER_PAGE, (p + 1) * LINKS_PER_PAGE):
            internal = k % 10 == 0
            dd = sd if internal else domain_name(int(dst[k]))
            dhost = f"www.{dd}"
            links.append(
                ["bench", url, host, sd, f"https://{dhost}/p/{dst_page[k]}", dhost, dd,
                 f"anchor {dst_page[k] % 20}", "a", "text", int(rel[k] < 0.1), int(rel[k] > 0.97),
                 int(0.95 < rel[k] <= 0.97), 0, now]
            )  # fmt: skip
        pages.append(
            ["bench", url, host, sd, 200, "text/html", 40000, 1, now, "t", "", 0, 0, "", "",
             LINKS_PER_PAGE]
        )  # fmt: skip
    return pages, links


def timed(fn: Any) -> float:
    """Median seconds of RUNS calls (after one warm-up)."""
    fn()
    runs = []
    for _ in range(RUNS):
        t = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t)
    return statistics.median(runs)


def run(total: int, data_dir: Path, domains: int) -> dict[str, Any]:
    client = connect(StorageTarget("", data_dir))
    rng = np.random.default_rng(42)
    batch = settings.LINKGRAPH_BATCH_ROWS
    insert_s, generated = 0.0, 0
    while generated < total:
        pages, links = generate(min(batch, total - generated), generated, domains, rng)
        t = time.perf_counter()
        insert_rows(client, pages, links)
        insert_s += time.perf_counter() - t
        generated += len(links)
    t = time.perf_counter()
    client.command("OPTIMIZE TABLE backlinks_state FINAL")  # what background merges converge to
    merge_s = time.perf_counter() - t
    disk = client.query(
        "SELECT table, sum(bytes_on_disk), sum(rows) FROM system.parts WHERE active "
        "AND database = currentDatabase() GROUP BY table ORDER BY table"
    ).result_rows
    total_bytes = sum(int(b) for _, b, _ in disk)
    top = client.query("SELECT dst_domain FROM domain_inbound ORDER BY backlinks DESC LIMIT 1")
    big = top.result_rows[0][0]
    mid = domain_name(domains // 20)

    def q(name: str, **params: Any) -> None:
        run_report(client, name, params)

    mine, competitors = domain_name(domains // 10), [domain_name(i) for i in (1, 2, 3)]
    latencies = {
        "profile (mid domain)": timed(lambda: q("profile", target=mid)),
        "profile (top domain)": timed(lambda: q("profile", target=big)),
        "backlinks of a domain (mid, 50 rows)": timed(lambda: q("backlinks", target=mid)),
        "backlinks of a domain (top, 50 rows)": timed(lambda: q("backlinks", target=big)),
        "intersect (3 competitors, K=2)": timed(
            lambda: q("intersect", domain=mine, competitors=competitors, min=2)
        ),
        "top (domains by referring domains)": timed(lambda: q("top")),
        "top pages of a domain (mid)": timed(lambda: q("top-pages", target=mid)),
        "outlinks of a domain (mid)": timed(lambda: q("outlinks", domain=mid)),
    }
    counts = client.query(
        f"SELECT (SELECT count() FROM backlinks WHERE dst_domain = '{mid}'), "
        f"(SELECT count() FROM backlinks WHERE dst_domain = '{big}'), "
        "(SELECT count() FROM backlinks_state)"
    ).result_rows[0]
    client.close()
    return {
        "links": total,
        "domains": domains,
        "insert_links_per_s": total / insert_s,
        "insert_s": insert_s,
        "optimize_final_s": merge_s,
        "bytes_on_disk": total_bytes,
        "bytes_per_link": total_bytes / total,
        "tables": {t: {"bytes": int(b), "rows": int(r)} for t, b, r in disk},
        "mid_domain": [mid, counts[0]],
        "top_domain": [big, counts[1]],
        "backlink_pairs": counts[2],
        "latency_ms": {k: round(v * 1000, 2) for k, v in latencies.items()},
    }


def rank(data_dir: Path) -> dict[str, Any]:
    """`linkgraph rank` on the index, as its own process: wall time, peak memory, summary."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "crawler.cli.main", "rank", "--data-dir", str(data_dir)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    wall = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {"wall_s": wall, "peak_rss_mb": max(peak, before) / 1024, "summary": proc.stderr}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.index", description=__doc__)
    p.add_argument("--links", type=int, default=1_000_000, help="links to insert (default 1M)")
    p.add_argument("--quick", action="store_true", help="a smoke run of 100,000 links")
    p.add_argument("--domains", type=int, default=0, help="default: links / 20")
    p.add_argument("--keep", metavar="DIR", help="build the index in DIR and keep it")
    p.add_argument("--rank", action="store_true", help="then time `linkgraph rank` on it")
    args = p.parse_args(argv)
    started = timestamp()
    total = 100_000 if args.quick else args.links
    domains = args.domains or max(1000, total // 20)
    tmp = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="lg-index-bench-"))
    try:
        result = run(total, tmp, domains)
        if args.rank:
            result["rank"] = rank(tmp)
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    print(f"{total:,} links over {domains:,} domains")
    print(f"  insert: {result['insert_links_per_s']:,.0f} links/s through the crawler's writer")
    print(f"  on disk: {result['bytes_per_link']:.1f} bytes per link (all tables)")
    for name, ms in result["latency_ms"].items():
        print(f"  {name}: {ms} ms (median of {RUNS})")
    if "rank" in result:
        r = result["rank"]
        print(
            f"  rank: {r['wall_s']:.1f} s, peak {r['peak_rss_mb']:,.0f} MB: {r['summary'].strip()}"
        )
    write_results(f"index-{total}-{started}", result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
