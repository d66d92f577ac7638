"""`linkgraph rank` on a cluster (crawler/cli/rank_store.py), in chDB configured as a 2-shard
cluster (tests/chdb_rank_cluster.py says how): the statements it issues, the generations it
makes on Keeper, and ranks read through the Distributed tables equal to one node's, exactly.
Not run here (no ClickHouse server or Keeper): ON CLUSTER across nodes, replication of the
ranks to other nodes, the quorum insert (chDB leaves Replicated tables read-only).
"""

from __future__ import annotations

from typing import Any

import pytest

from crawler.cli.rank_store import swap
from tests.chdb_rank_cluster import generated_links
from tests.test_cluster_schema import CONFIG, probed

GENERATION_0 = 1_796_040_000_000  # 2026-11-30 12:00 UTC, in ms
GENERATION_1 = GENERATION_0 + 60_000
GENERATION_2 = GENERATION_1 + 60_000
ON = " ON CLUSTER 'linkgraph'"
BASE = "/clickhouse/tables/all/linkgraph/"


@pytest.fixture(scope="module")
def ranked(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("chdb-rank-cluster")
    config = tmp / "config.xml"
    # both shards (port 9000) are this process: see tests/chdb_rank_cluster.py
    config.write_text(
        CONFIG.read_text().replace("<clickhouse>", "<clickhouse>\n<tcp_port>9000</tcp_port>", 1)
    )
    return probed("tests.chdb_rank_cluster", config, tmp / "data")


def create(generation: int) -> str:
    return (
        f"CREATE TABLE domain_rank_next{ON} AS domain_rank ENGINE = ReplicatedMergeTree("
        f"'/clickhouse/tables/all/{{database}}/domain_rank_{generation}', '{{shard}}-{{replica}}')"
        " ORDER BY domain"
    )


def cluster_ddl(generation: int) -> list[str]:
    return [
        f"DROP TABLE IF EXISTS domain_rank_next{ON} SYNC",
        create(generation),
        f"EXCHANGE TABLES domain_rank_next AND domain_rank{ON}",
        f"DROP TABLE domain_rank_next{ON} SYNC",
    ]


def test_one_node_swaps_as_before() -> None:
    steps = swap()
    assert steps.prepare == (
        "DROP TABLE IF EXISTS domain_rank_next",
        "CREATE TABLE domain_rank_next AS domain_rank",
    )
    assert steps.insert_settings == {}
    assert steps.exchange == "EXCHANGE TABLES domain_rank_next AND domain_rank"
    assert steps.drop == "DROP TABLE domain_rank_next"


def test_a_cluster_swap_runs_on_every_node_and_inserts_with_a_quorum_of_all() -> None:
    steps = swap("linkgraph", GENERATION_1, 4)
    assert [*steps.prepare, steps.exchange, steps.drop] == cluster_ddl(GENERATION_1)
    assert steps.insert_settings == {"insert_quorum": 4}


def test_both_shards_are_this_process(ranked: dict[str, Any]) -> None:
    assert ranked["local_shards"] == [[1, 1], [2, 1]]


def test_rank_finds_the_cluster_in_the_schema(ranked: dict[str, Any]) -> None:
    assert ranked["cluster"] == "linkgraph"
    assert ranked["single"] == ""


def test_every_statement_parses_with_on_cluster(ranked: dict[str, Any]) -> None:
    """What rank issued on the cluster schema, then EXPLAIN AST of each, ON CLUSTER included."""
    assert ranked["cluster_ddl"] == cluster_ddl(GENERATION_0)
    assert [tree.split(" ")[0] for tree in ranked["parsed"]] == [
        "DropQuery", "CreateQuery", "Rename", "DropQuery"
    ]  # fmt: skip


def test_each_generation_has_its_own_keeper_path(ranked: dict[str, Any]) -> None:
    """On the Replicated tables as written: the new generation is swapped in, the old one's
    table and its replica in Keeper are gone."""
    assert ranked["replicated_ddl"] == cluster_ddl(GENERATION_1) + cluster_ddl(GENERATION_2)
    for rows, generation in zip(ranked["generations"], (GENERATION_1, GENERATION_2), strict=True):
        assert [r for r in rows if r[0].startswith("domain_rank")] == [
            ["domain_rank", f"{BASE}domain_rank_{generation}"]
        ]
    old, in_use = ranked["replica_free"]
    assert old == ""
    assert in_use == (
        f"Code: 253. DB::Exception: Replica {BASE}domain_rank_{GENERATION_2}/replicas/01-ch-01-1 "
        "already exists. (REPLICA_ALREADY_EXISTS)"
    )


def test_a_refused_insert_is_one_line_and_leaves_the_ranks(ranked: dict[str, Any]) -> None:
    """chDB refuses inserts into its Replicated tables: rank says so in one line, and the
    generation in use stays; the next run drops the refused one first."""
    message = ranked["read_only_insert"]
    assert message.startswith("the new ranks could not be written on cluster 'linkgraph': Code: ")
    assert message.endswith(" (domain_rank is unchanged)") and "\n" not in message
    refused = ["domain_rank_next", f"{BASE}domain_rank_{GENERATION_2 + 60_000}"]
    assert ranked["after_refused"] == sorted([*ranked["generations"][1], refused])
    in_use = [r for r in ranked["after_next"] if r[0].startswith("domain_rank")]
    assert in_use == [["domain_rank", f"{BASE}domain_rank_{GENERATION_2 + 120_000}"]]


def test_a_cluster_the_server_does_not_define(ranked: dict[str, Any]) -> None:
    assert ranked["unknown_cluster"] == (
        "the index's tables are Distributed over cluster 'elsewhere', which this server's "
        "remote_servers does not define: connect rank to a node of that cluster"
    )


def test_cluster_ranks_equal_one_nodes_exactly(ranked: dict[str, Any]) -> None:
    links = generated_links()
    assert ranked["links"] == ranked["links_local"] == len(links) == 213  # each inserted once
    pairs = {(link[3], link[6]) for link in links if link[3] != link[6]}
    followed = {(link[3], link[6]) for link in links if link[3] != link[6] and not link[7]}
    single, clustered = ranked["single_ranks"], ranked["cluster_ranks"]
    assert [row[0] for row in single] == sorted({d for pair in followed for d in pair})
    assert len(single) == 40
    assert clustered == single  # the same floats, to the last bit
    assert ranked["cluster_tables"] == [["domain_rank"]]
    # a view joining the ranks, over the Distributed tables on the cluster
    assert ranked["cluster_refdomains"] == ranked["single_refdomains"]
    assert [(src, dst) for dst, src, _ in ranked["single_refdomains"]] == sorted(
        pairs, key=lambda pair: (pair[1], pair[0])
    )
    authority = {row[0]: row[3] for row in single}
    assert all(a == authority.get(src, 0.0) for _, src, a in ranked["single_refdomains"])
    assert max(authority.values()) == 100 and min(authority.values()) == 0
