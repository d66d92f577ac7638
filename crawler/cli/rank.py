"""`linkgraph rank`: compute domain authority over the index's domain graph and store it in
`domain_rank`, which the views join.

The graph is read as strings (`domain_graph`) and numbered here with Arrow's hash kernels; the
new ranks go into a side table that then replaces `domain_rank` in one EXCHANGE, so readers
never see a half-written table.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from crawler.cli.common import add_storage, non_negative_int, storage_target
from crawler.storage import connect

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa
    from clickhouse_connect.driver.client import Client

    from crawler import rank as ranking

# numpy, scipy, numba and pyarrow are imported when `rank` runs, not at every command's start.
EXACT_LIMIT = 100_000  # crawler.rank.EXACT_LIMIT; tests/test_rank.py checks they agree
SAMPLES = 4096  # crawler.rank.SAMPLES

NEXT_TABLE = "domain_rank_next"


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    text = "compute domain authority (PageRank, harmonic centrality) into domain_rank"
    p = sub.add_parser("rank", help=text, description=text[0].upper() + text[1:] + ".")
    add_storage(p)
    p.add_argument(
        "--exact-limit",
        type=non_negative_int,
        default=EXACT_LIMIT,
        metavar="N",
        help=f"exact harmonic centrality up to N domains, sampled above (default {EXACT_LIMIT:,})",
    )
    p.add_argument(
        "--samples",
        type=non_negative_int,
        default=SAMPLES,
        metavar="K",
        help=f"BFS sources sampled above the limit (default {SAMPLES:,})",
    )
    p.set_defaults(func=run)


def load_graph(client: Client) -> tuple[pa.Array, np.ndarray, np.ndarray]:
    """(domain names, src ids, dst ids) of the domain graph."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    table = client.query_arrow("SELECT src_domain, dst_domain FROM domain_graph")
    src, dst = table.column(0), table.column(1)
    nodes = pc.unique(pa.chunked_array(src.chunks + dst.chunks, type=src.type))
    src_ids = pc.index_in(src, value_set=nodes).to_numpy().astype(np.int32)
    dst_ids = pc.index_in(dst, value_set=nodes).to_numpy().astype(np.int32)
    return nodes, src_ids, dst_ids


def store(client: Client, nodes: pa.Array, ranks: ranking.Ranks, when: datetime) -> None:
    import pyarrow as pa

    client.command(f"DROP TABLE IF EXISTS {NEXT_TABLE}")
    client.command(f"CREATE TABLE {NEXT_TABLE} AS domain_rank")
    if len(nodes):
        table = pa.table(
            {
                "domain": nodes.cast(pa.string()),
                "pagerank": ranks.pagerank,
                "harmonic": ranks.harmonic,
                "authority": ranks.authority,
                "computed_at": pa.array([when] * len(nodes), pa.timestamp("ms", tz="UTC")),
            }
        )
        client.insert_arrow(NEXT_TABLE, table)
    client.command(f"EXCHANGE TABLES {NEXT_TABLE} AND domain_rank")
    client.command(f"DROP TABLE {NEXT_TABLE}")


def run(args: argparse.Namespace) -> int:
    from crawler import rank as ranking

    started = time.monotonic()
    client = connect(storage_target(args))
    nodes, src, dst = load_graph(client)
    loaded = time.monotonic()
    ranks = ranking.rank(src, dst, len(nodes), exact_limit=args.exact_limit, samples=args.samples)
    computed = time.monotonic()
    store(client, nodes, ranks, datetime.now(timezone.utc))
    done = time.monotonic()
    how = (
        "exact"
        if ranks.exact_harmonic
        else f"sampled from {ranks.harmonic_sources:,} sources, within ±{ranks.harmonic_error:,.1f}"
        f" of exact with {ranking.CONFIDENCE:.0%} confidence"
    )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"ranked {len(nodes):,} domains over {len(src):,} edges: PageRank in "
        f"{ranks.iterations} iterations, harmonic centrality {how}; load {loaded - started:.1f}s,"
        f" compute {computed - loaded:.1f}s, store {done - computed:.1f}s; peak memory "
        f"{peak:,.0f} MB",
        file=sys.stderr,
    )
    return 0
