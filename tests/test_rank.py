"""Authority against networkx: on the domain graph of the crawled test web (through `linkgraph
rank` and the views that join `domain_rank`) and on a generated graph of 10,000 domains."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import networkx as nx
import numpy as np
import pytest

from crawler import rank as ranking
from tests.conftest import IndexedWeb, query, run_cli
from tests.indextruth import IndexTruth


def networkx_ranks(graph: nx.DiGraph) -> tuple[dict[str, float], dict[str, float]]:
    # networkx's default stops at an L1 change of n * 1e-6; run it to convergence instead
    n = graph.number_of_nodes()
    pagerank = nx.pagerank(graph, alpha=0.85, tol=1e-12 / n, max_iter=10_000)
    return pagerank, nx.harmonic_centrality(graph)


def expected_authority(pagerank: dict[str, float]) -> dict[str, float]:
    low, high = min(pagerank.values()), max(pagerank.values())
    return {d: 100 * math.log(v / low) / math.log(high / low) for d, v in pagerank.items()}


@pytest.fixture(scope="module")
def ranked(indexed_web: IndexedWeb, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the crawled index with `linkgraph rank` run on it."""
    data = tmp_path_factory.mktemp("ranked") / "data"
    shutil.copytree(indexed_web.data_dir / "clickhouse", data / "clickhouse", symlinks=True)
    status, _, err = run_cli("rank", "--data-dir", str(data))
    assert status == 0, err
    assert "harmonic centrality exact" in err
    return data


def test_rank_of_the_crawled_graph_equals_networkx(indexed_web: IndexedWeb, ranked: Path) -> None:
    truth = IndexTruth(indexed_web.web, indexed_web.port)
    graph = nx.DiGraph()
    graph.add_edges_from({(p.src_domain, p.dst_domain) for p in truth.pairs if p.follow})
    pagerank, harmonic = networkx_ranks(graph)
    rows = query(ranked, "SELECT domain, pagerank, harmonic, authority FROM domain_rank")
    assert {r[0] for r in rows} == set(graph.nodes) and len(rows) == graph.number_of_nodes()
    authority = expected_authority(pagerank)
    for domain, pr, h, a in rows:
        assert pr == pytest.approx(pagerank[domain], abs=1e-9), domain
        assert h == pytest.approx(harmonic[domain], abs=1e-9), domain
        assert a == pytest.approx(authority[domain], abs=1e-6), domain
    assert max(a for *_, a in rows) == 100 and min(a for *_, a in rows) == 0


def test_views_join_the_ranks(ranked: Path) -> None:
    ranks = dict(query(ranked, "SELECT domain, authority FROM domain_rank"))
    rows = query(ranked, "SELECT src_domain, authority FROM referring_domains")
    assert rows and all(a == ranks.get(d, 0.0) for d, a in rows)
    rows = query(ranked, "SELECT domain, authority FROM domain_profile")
    assert rows and all(a == ranks.get(d, 0.0) for d, a in rows)
    status, out, _ = run_cli("refdomains", "example.com", "--data-dir", str(ranked),
                             "--format", "TSV")  # fmt: skip
    assert status == 0
    for line in out.splitlines():
        domain, *_, authority, _, _ = line.split("\t")
        assert float(authority) == round(ranks.get(domain, 0.0), 4)  # printed to 4 decimals


def generated_graph(communities: int = 200, size: int = 50, seed: int = 7) -> nx.DiGraph:
    """10,000 domains in communities linking within themselves and up to one of ten hubs, so
    networkx's breadth-first searches stay short; some domains link nowhere (dangling)."""
    rng = np.random.default_rng(seed)
    graph = nx.DiGraph()
    graph.add_nodes_from(range(communities * size))
    for c in range(communities):
        members = np.arange(c * size, (c + 1) * size)
        for v in members:
            if rng.random() < 0.1:
                continue  # dangling
            for u in rng.choice(members, size=3, replace=False):
                if u != v:
                    graph.add_edge(int(v), int(u))
        hub = int(rng.integers(0, 10))
        if hub != c:
            for v in rng.choice(members, size=5, replace=False):
                graph.add_edge(int(v), int(rng.integers(hub * size, (hub + 1) * size)))
    return graph


def test_rank_of_a_generated_graph_equals_networkx() -> None:
    graph = generated_graph()
    n = graph.number_of_nodes()
    assert n >= 10_000
    edges = np.array(list(graph.edges), dtype=np.int32)
    ranks = ranking.rank(edges[:, 0], edges[:, 1], n)
    pagerank, harmonic = networkx_ranks(graph)
    assert ranks.exact_harmonic
    assert np.max(np.abs(ranks.pagerank - np.array([pagerank[v] for v in range(n)]))) < 1e-9
    exact = np.array([harmonic[v] for v in range(n)])
    assert np.max(np.abs(ranks.harmonic - exact)) < 1e-9
    assert ranks.pagerank.sum() == pytest.approx(1.0, abs=1e-9)

    # above the exact limit: sampled sources, each node within the stated bound
    h, exact_flag, sources, bound = ranking.harmonic(
        edges[:, 0], edges[:, 1], n, exact_limit=1000, samples=2048
    )
    assert not exact_flag and sources == 2048
    assert bound == pytest.approx(n * math.sqrt(math.log(40) / (2 * 2048)))
    assert np.max(np.abs(h - exact)) <= bound
    top = np.argsort(-exact)[:10]  # the best-linked domains come out close
    assert np.max(np.abs(h[top] - exact[top]) / exact[top]) < 0.1


def test_rank_of_an_empty_index(tmp_path: Path) -> None:
    status, _, err = run_cli("rank", "--data-dir", str(tmp_path / "d"))
    assert status == 0 and "ranked 0 domains over 0 edges" in err
    assert query(tmp_path / "d", "SELECT count() FROM domain_rank") == [(0,)]


def test_cli_defaults_match_the_ranking_module() -> None:
    from crawler import rank
    from crawler.cli import rank as cli

    assert (cli.EXACT_LIMIT, cli.SAMPLES) == (rank.EXACT_LIMIT, rank.SAMPLES)
