"""`linkgraph rank` on the cluster schema, in chDB configured as a 2-shard cluster: run as a
process of its own by tests/test_rank_cluster.py (`python -m tests.chdb_rank_cluster CONFIG
DATA_DIR`), which reads the JSON it prints. tests/chdb_cluster.py says what chDB cannot run and
how `OneNodeClient` stands in for it (no distributed DDL, Replicated tables read-only).

Unlike there, the config given here sets `tcp_port` to the port of both shards, so chDB takes
both for itself: a query through a Distributed table runs on each shard's local tables, here
the same ones twice, and an insert through one lands once. The domain graph (a GROUP BY of
distinct pairs) is then the graph of the links inserted, read through the Distributed tables
as on a real cluster.
"""

from __future__ import annotations

import random
import sys
from datetime import datetime, timezone
from typing import Any

from crawler import rank as ranking
from crawler.cli.rank import load_graph
from crawler.cli.rank_store import GENERATION_PATH, REPLICA, TABLE, store
from crawler.cluster_schema import apply_cluster_schema, index_cluster
from crawler.errors import UsageError
from crawler.schema import apply_schema
from tests.chdb_cluster import CLUSTER, OneNodeClient, answer, create_replicated

DATABASE, WRITABLE, SINGLE = "linkgraph", "writable", "single"
LINK_COLUMNS = ["job", "src_url", "src_host", "src_domain", "dst_url", "dst_host", "dst_domain",
                "nofollow", "fetched_at"]  # fmt: skip
WHEN = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)


class RecordingClient(OneNodeClient):
    """Keeps each statement as it was issued, ON CLUSTER included."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.issued: list[str] = []
        super().__init__(*args, **kwargs)

    def command(self, cmd: str, *args: Any, **kwargs: Any) -> Any:
        self.issued.append(cmd)
        return super().command(cmd, *args, **kwargs)


def generated_links(domains: int = 40, seed: int = 3) -> list[list[Any]]:
    """Links among `domains` domains: some nofollow, some within a domain, a few domains
    linking nowhere, and pairs repeated from other pages."""
    rng = random.Random(seed)
    names = [f"d{i:02}.com" for i in range(domains)]
    links = []
    for i, src in enumerate(names):
        for page in range(rng.randint(0 if i % 7 == 0 else 1, 3)):
            for dst in rng.sample(names, rng.randint(1, 5)):
                nofollow = int(rng.random() < 0.2)
                links.append(["j", f"http://{src}/{page}", src, src, f"http://{dst}/", dst, dst,
                              nofollow, WHEN])  # fmt: skip
    return links


def rank_index(client: OneNodeClient, when: datetime) -> str:
    """What `linkgraph rank` runs once connected (crawler/cli/rank.py, `run`)."""
    cluster = index_cluster(client)
    nodes, src, dst = load_graph(client)
    store(client, nodes, ranking.rank(src, dst, len(nodes)), when, cluster)
    return cluster


def ranks(client: OneNodeClient) -> list[list[Any]]:
    return [
        list(row)
        for row in client.query(
            f"SELECT domain, pagerank, harmonic, authority FROM {TABLE} ORDER BY domain"
        ).result_rows
    ]


def replicas(client: OneNodeClient) -> list[list[str]]:
    rows = client.query(
        "SELECT table, zookeeper_path FROM system.replicas WHERE database = {d:String} "
        "ORDER BY table",
        parameters={"d": DATABASE},
    ).result_rows
    return [list(row) for row in rows]


def replica_free(client: OneNodeClient, generation: int) -> str:
    """ "" when this node's replica of a generation's Keeper path is gone (chDB has no
    system.zookeeper: a new replica there is refused while the old one is registered), else
    the error."""
    path = GENERATION_PATH.format(generation=generation)
    try:
        client.command(f"CREATE TABLE probe AS {TABLE} ENGINE = ReplicatedMergeTree('{path}', "
                       f"'{REPLICA}') ORDER BY domain")  # fmt: skip
    except Exception as exc:
        return str(exc).splitlines()[0][:300]
    client.command("DROP TABLE probe SYNC")
    return ""


def probe(client: RecordingClient) -> dict[str, Any]:
    out: dict[str, Any] = {}
    links = generated_links()
    out["links"] = len(links)
    out["local_shards"] = client.query(
        "SELECT shard_num, is_local FROM system.clusters WHERE cluster = {c:String} "
        "ORDER BY shard_num",
        parameters={"c": CLUSTER},
    ).result_rows

    # The Replicated tables as written: the DDL of two generations, on Keeper. Without rows:
    # chDB leaves Replicated tables read-only, so an insert is refused, and said in one line.
    create_replicated(client)
    client.issued = []
    empty = ranking.rank(*load_graph_of([]), 0)
    generations = []
    for minute in (1, 2):
        when = WHEN.replace(minute=minute)
        store(client, pa_strings([]), empty, when, CLUSTER)
        generations.append(replicas(client))
    out["generations"] = generations
    out["replicated_ddl"] = list(client.issued)
    first, second = (int(WHEN.replace(minute=m).timestamp() * 1000) for m in (1, 2))
    out["replica_free"] = [replica_free(client, first), replica_free(client, second)]
    one = pa_strings(["a.com"])
    try:
        store(client, one, ranking.rank(*load_graph_of([]), 1), WHEN.replace(minute=3), CLUSTER)
        out["read_only_insert"] = ""
    except UsageError as exc:
        out["read_only_insert"] = str(exc)
    out["after_refused"] = replicas(client)
    store(client, pa_strings([]), empty, WHEN.replace(minute=4), CLUSTER)
    out["after_next"] = replicas(client)
    try:
        store(client, one, ranking.rank(*load_graph_of([]), 1), WHEN, "elsewhere")
        out["unknown_cluster"] = ""
    except UsageError as exc:
        out["unknown_cluster"] = str(exc)

    # The cluster schema without replication: links in through the Distributed table, ranked.
    client.replicated = False
    client.command(f"CREATE DATABASE {WRITABLE}")
    client.database = WRITABLE
    apply_cluster_schema(client, CLUSTER)
    client.insert("links", links, column_names=LINK_COLUMNS,
                  settings={"distributed_foreground_insert": 1})  # fmt: skip
    out["links_local"] = client.query("SELECT count() FROM links_local").result_rows[0][0]
    client.issued = []
    out["cluster"] = rank_index(client, WHEN)
    out["cluster_ddl"] = list(client.issued)
    out["parsed"] = []
    for statement in client.issued:
        out["parsed"].append(client.query("EXPLAIN AST " + statement).result_rows[0][0])
    out["cluster_ranks"] = ranks(client)
    out["cluster_tables"] = client.query(
        "SELECT name FROM system.tables WHERE database = currentDatabase() "
        "AND name LIKE 'domain_rank%'"
    ).result_rows
    out["cluster_refdomains"] = refdomains(client)

    # The single-node schema with the same links.
    client.command(f"CREATE DATABASE {SINGLE}")
    client.database = SINGLE
    apply_schema(client)
    client.insert("links", links, column_names=LINK_COLUMNS)
    client.issued = []
    out["single"] = rank_index(client, WHEN)
    out["single_ddl"] = list(client.issued)
    out["single_ranks"] = ranks(client)
    out["single_refdomains"] = refdomains(client)
    return out


def refdomains(client: OneNodeClient) -> list[list[Any]]:
    """A view that joins the ranks, over the Distributed tables on the cluster."""
    return [
        list(row)
        for row in client.query(
            "SELECT dst_domain, src_domain, authority FROM referring_domains "
            "ORDER BY dst_domain, src_domain"
        ).result_rows
    ]


def pa_strings(values: list[str]) -> Any:
    import pyarrow as pa

    return pa.array(values, pa.string())


def load_graph_of(edges: list[tuple[int, int]]) -> tuple[Any, Any]:
    import numpy as np

    src = np.array([s for s, _ in edges], np.int32)
    dst = np.array([d for _, d in edges], np.int32)
    return src, dst


def main() -> None:
    config, data_dir = sys.argv[1], sys.argv[2]
    answer(RecordingClient(path=data_dir, chdb_options={"config-file": config}), probe)


if __name__ == "__main__":
    main()
