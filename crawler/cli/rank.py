"""`linkgraph rank`: compute domain authority over the index's domain graph and store it in
`domain_rank`, which the views join.

The graph is read as strings (`domain_graph`, in order, so the same links give the same ranks
to the last bit on one node or a cluster) and numbered here with Arrow's hash kernels; the new
ranks go into a side table that then replaces `domain_rank` in one EXCHANGE, so readers never
see a half-written table (crawler/cli/rank_store.py). On a cluster, which the index's schema
records, the graph is read through the Distributed tables and the ranks land on every node.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from clickhouse_connect.driver.exceptions import ClickHouseError

from crawler.cli.common import add_storage, non_negative_int, storage_target
from crawler.cli.rank_store import store
from crawler.cluster_schema import index_cluster
from crawler.errors import UsageError
from crawler.storage import connect, first_line

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa
    from clickhouse_connect.driver.client import Client

# numpy, scipy, numba and pyarrow are imported when `rank` runs, not at every command's start.
EXACT_LIMIT = 100_000  # crawler.rank.EXACT_LIMIT; tests/test_rank.py checks they agree
SAMPLES = 4096  # crawler.rank.SAMPLES


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

    table = client.query_arrow(
        "SELECT src_domain, dst_domain FROM domain_graph ORDER BY src_domain, dst_domain"
    )
    src, dst = table.column(0), table.column(1)
    nodes = pc.unique(pa.chunked_array(src.chunks + dst.chunks, type=src.type))
    src_ids = pc.index_in(src, value_set=nodes).to_numpy().astype(np.int32)
    dst_ids = pc.index_in(dst, value_set=nodes).to_numpy().astype(np.int32)
    return nodes, src_ids, dst_ids


def run(args: argparse.Namespace) -> int:
    from crawler import rank as ranking

    started = time.monotonic()
    target = storage_target(args)
    client = connect(target)
    try:
        cluster = index_cluster(client)
        nodes, src, dst = load_graph(client)
    except ClickHouseError as exc:
        raise UsageError(
            f"the domain graph could not be read at {target.describe()}: {first_line(str(exc))}"
        ) from None
    loaded = time.monotonic()
    ranks = ranking.rank(src, dst, len(nodes), exact_limit=args.exact_limit, samples=args.samples)
    computed = time.monotonic()
    store(client, nodes, ranks, datetime.now(timezone.utc), cluster)
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
        f"{peak:,.0f} MB" + (f"; on every node of cluster {cluster!r}" if cluster else ""),
        file=sys.stderr,
    )
    return 0
