"""How `linkgraph rank` puts its result in place: a new generation of `domain_rank`, written
beside the one readers use, then swapped in whole, so they never see a half-written table.

On one node: `domain_rank_next` is made like `domain_rank`, filled, exchanged with it, and the
old generation dropped.

On a cluster (the index's Distributed tables name it: crawler/cluster_schema.py,
`index_cluster`), `domain_rank` is reference data, one replication group across all shards
(deploy/clickhouse/cluster/007_domain_rank.sql), so every node joins its own full copy. Each
step runs ON CLUSTER:
- the new generation is a Replicated table of its own, under a Keeper path that names the
  generation (the ms of `computed_at`): a copy of `domain_rank` would take its path, which its
  replicas already hold;
- the rows go in on the node rank is connected to with `insert_quorum` set to every node of
  the cluster, so the insert returns only once each node holds all of them; with a node down
  it fails, and `domain_rank` stays as it was everywhere;
- EXCHANGE TABLES swaps the generations on every node, and DROP ... SYNC removes the old one
  and its Keeper path.
Two runs at once would share `domain_rank_next`: on a server, as on a cluster, run one at a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from clickhouse_connect.driver.exceptions import ClickHouseError

from crawler.cluster_schema import quoted
from crawler.errors import UsageError
from crawler.storage import first_line

if TYPE_CHECKING:
    import pyarrow as pa
    from clickhouse_connect.driver.client import Client

    from crawler import rank as ranking

TABLE = "domain_rank"
NEXT_TABLE = "domain_rank_next"
# A sibling of the schema's '/clickhouse/tables/all/{database}/domain_rank'; the replica name is
# the schema's too (one group across all shards, so it holds the shard).
GENERATION_PATH = "/clickhouse/tables/all/{{database}}/domain_rank_{generation}"
REPLICA = "{shard}-{replica}"


@dataclass(frozen=True)
class Swap:
    """The statements that put a generation in place: `prepare` before its rows go in (with
    `insert_settings`), `exchange` after, then `drop` for the generation it replaced."""

    prepare: tuple[str, ...]
    insert_settings: dict[str, Any]
    exchange: str
    drop: str


def swap(cluster: str = "", generation: int = 0, nodes: int = 1) -> Swap:
    """On one node when `cluster` is "", else on the `nodes` nodes of `cluster`."""
    if not cluster:
        return Swap(
            (f"DROP TABLE IF EXISTS {NEXT_TABLE}", f"CREATE TABLE {NEXT_TABLE} AS {TABLE}"),
            {},
            f"EXCHANGE TABLES {NEXT_TABLE} AND {TABLE}",
            f"DROP TABLE {NEXT_TABLE}",
        )
    on = f" ON CLUSTER {quoted(cluster)}"
    path = quoted(GENERATION_PATH.format(generation=generation))
    return Swap(
        (
            f"DROP TABLE IF EXISTS {NEXT_TABLE}{on} SYNC",
            f"CREATE TABLE {NEXT_TABLE}{on} AS {TABLE} "
            f"ENGINE = ReplicatedMergeTree({path}, {quoted(REPLICA)}) ORDER BY domain",
        ),
        {"insert_quorum": nodes},
        f"EXCHANGE TABLES {NEXT_TABLE} AND {TABLE}{on}",
        f"DROP TABLE {NEXT_TABLE}{on} SYNC",
    )


def cluster_nodes(client: Client, cluster: str) -> int:
    """How many nodes `cluster` has, as the connected server's remote_servers says."""
    count = client.query(
        "SELECT count() FROM system.clusters WHERE cluster = {c:String}", parameters={"c": cluster}
    ).result_rows[0][0]
    if not count:
        raise UsageError(
            f"the index's tables are Distributed over cluster {cluster!r}, which this server's "
            "remote_servers does not define: connect rank to a node of that cluster"
        )
    return int(count)


def store(
    client: Client, nodes: pa.Array, ranks: ranking.Ranks, when: datetime, cluster: str = ""
) -> None:
    """Write the ranks of `nodes` as the new `domain_rank`, on every node of `cluster` if
    one is given. Raises UsageError, naming what state it left, when ClickHouse refuses."""
    import pyarrow as pa

    generation = int(when.timestamp() * 1000)
    steps = swap(cluster, generation, cluster_nodes(client, cluster) if cluster else 1)
    where = f" on cluster {cluster!r}" if cluster else ""
    try:
        for statement in steps.prepare:
            client.command(statement)
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
            client.insert_arrow(NEXT_TABLE, table, settings=steps.insert_settings or None)
    except ClickHouseError as exc:
        raise UsageError(
            f"the new ranks could not be written{where}: {first_line(str(exc))} "
            f"({TABLE} is unchanged)"
        ) from None
    partly = "may be swapped on some nodes only: run rank again" if cluster else "is unchanged"
    for statement, then in (
        (steps.exchange, f"{TABLE} {partly}"),
        (steps.drop, f"the new ranks are in {TABLE}; the next rank drops the old {NEXT_TABLE}"),
    ):
        try:
            client.command(statement)
        except ClickHouseError as exc:
            raise UsageError(f"{statement}: {first_line(str(exc))} ({then})") from None
