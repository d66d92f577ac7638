"""Domain authority over the graph of followable cross-domain links: PageRank, harmonic
centrality of incoming paths, and a 0-100 authority score.

The graph has one node per registered domain that has a followable cross-domain link in or out,
and one edge per distinct (src_domain -> dst_domain) pair. Nodes are dense ints 0..n-1 and edges
two int32 arrays, so ten million edges take 80 MB before the sparse matrices.

- PageRank is networkx.pagerank's power iteration (damping 0.85, uniform start and teleport,
  dangling mass spread uniformly) on a scipy CSR matrix, run to convergence: it stops when the
  L1 change is below 1e-10, which bounds every node's error by 6e-10. (networkx stops when the
  change is below n * 1e-6 by default: at 10,000 nodes that leaves errors near 1e-5, so it is
  compared with networkx run to the same convergence, `tol=1e-12 / n`.)
- Harmonic centrality of node u is the sum over every other node v of 1/d(v, u), as
  networkx.harmonic_centrality computes it. Exact: a breadth-first search from every node,
  run as a multi-source BFS (64 * WORDS sources per pass, one bit each, compiled with numba).
  That costs n * e / 512 word operations, so above `exact_limit` nodes the searches start
  from `samples` sources drawn uniformly and the sums are scaled by n / samples: unbiased,
  and by Hoeffding's inequality within 2.1% of n of the exact value for every node with 95%
  probability at 4,096 samples (error <= n * sqrt(ln(2 / 0.05) / (2 * samples))).
- Authority is 100 * ln(pr / min pr) / ln(max pr / min pr): 0 for the least, 100 for the most
  linked domain of the graph, on a log scale since PageRank spans orders of magnitude.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np
import numpy.typing as npt
from scipy import sparse

DAMPING = 0.85
TOLERANCE = 1e-10  # stop when the L1 change of an iteration is below this
MAX_ITERATIONS = 1000
WORDS = 8  # 512 BFS sources per pass
EXACT_LIMIT = 100_000
SAMPLES = 4096
CONFIDENCE = 0.95

IntArray = npt.NDArray[np.int32]
FloatArray = npt.NDArray[np.float64]


@dataclass
class Ranks:
    pagerank: FloatArray
    harmonic: FloatArray
    authority: FloatArray
    iterations: int
    exact_harmonic: bool
    harmonic_sources: int
    harmonic_error: float  # bound on |estimate - exact| (0 when exact), at CONFIDENCE


def pagerank(src: IntArray, dst: IntArray, n: int) -> tuple[FloatArray, int]:
    """PageRank of every node, and the number of iterations it took."""
    if n == 0:
        return np.zeros(0), 0
    out_degree = np.bincount(src, minlength=n).astype(np.float64)
    # Column-stochastic transpose: (M @ x)[d] = sum over edges s->d of x[s] / outdeg(s).
    m = sparse.csr_array((1.0 / out_degree[src], (dst, src)), shape=(n, n))
    dangling = np.flatnonzero(out_degree == 0)
    x = np.full(n, 1.0 / n)
    for iteration in range(1, MAX_ITERATIONS + 1):
        last = x
        x = DAMPING * (m @ last + last[dangling].sum() / n) + (1.0 - DAMPING) / n
        if np.abs(x - last).sum() < TOLERANCE:
            return x, iteration
    raise RuntimeError(f"PageRank did not converge in {MAX_ITERATIONS} iterations")


@numba.njit(inline="always")
def _popcount(x: np.uint64) -> np.uint64:
    x = x - ((x >> np.uint64(1)) & np.uint64(0x5555555555555555))
    x = (x & np.uint64(0x3333333333333333)) + ((x >> np.uint64(2)) & np.uint64(0x3333333333333333))
    x = (x + (x >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
    return (x * np.uint64(0x0101010101010101)) >> np.uint64(56)


@numba.njit(parallel=True, cache=True)
def _bfs_pass(indptr, indices, sources, out):
    """Breadth-first searches from up to 64 * WORDS sources at once, over in-edge lists
    (indices[indptr[v]:indptr[v + 1]] are the nodes linking to v): a node reached at depth d
    by k of the searches gains k / d."""
    n = indptr.size - 1
    words = WORDS
    seen = np.zeros((n, words), np.uint64)
    frontier = np.zeros((n, words), np.uint64)
    for i in range(sources.size):
        bit = np.uint64(1) << np.uint64(i & 63)
        seen[sources[i], i >> 6] |= bit
        frontier[sources[i], i >> 6] |= bit
    full = np.zeros(words, np.uint64)
    for i in range(sources.size):
        full[i >> 6] |= np.uint64(1) << np.uint64(i & 63)
    reached = np.zeros((n, words), np.uint64)
    depth = 0
    while True:
        depth += 1
        found = 0
        for v in numba.prange(n):
            done = True
            for w in range(words):
                reached[v, w] = 0
                done = done and seen[v, w] == full[w]
            if done:  # every search has reached v already: nothing to gain
                continue
            for e in range(indptr[v], indptr[v + 1]):
                u = indices[e]
                for w in range(words):
                    reached[v, w] |= frontier[u, w]
            count = 0
            for w in range(words):
                new = reached[v, w] & ~seen[v, w]
                reached[v, w] = new
                seen[v, w] |= new
                count += int(_popcount(new))
            if count:
                out[v] += count / depth
                found += count
        if found == 0:
            return
        frontier, reached = reached, frontier


def harmonic(
    src: IntArray,
    dst: IntArray,
    n: int,
    *,
    exact_limit: int = EXACT_LIMIT,
    samples: int = SAMPLES,
    seed: int = 0,
) -> tuple[FloatArray, bool, int, float]:
    """(harmonic centrality, exact?, sources searched, error bound) of every node."""
    order = np.argsort(dst, kind="stable")
    indices = src[order].astype(np.int32)
    indptr = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(dst, minlength=n), out=indptr[1:])
    exact = n <= exact_limit or samples >= n
    if exact:
        sources = np.arange(n, dtype=np.int32)
    else:
        rng = np.random.default_rng(seed)
        sources = np.sort(rng.choice(n, size=samples, replace=False)).astype(np.int32)
    out = np.zeros(n, np.float64)
    batch = 64 * WORDS
    for start in range(0, sources.size, batch):
        _bfs_pass(indptr, indices, sources[start : start + batch], out)
    if exact:
        return out, True, n, 0.0
    bound = n * math.sqrt(math.log(2 / (1 - CONFIDENCE)) / (2 * sources.size))
    return out * (n / sources.size), False, int(sources.size), bound


def authority(pr: FloatArray) -> FloatArray:
    if pr.size == 0:
        return pr.copy()
    low, high = float(pr.min()), float(pr.max())
    if high <= low:
        return np.zeros_like(pr)
    return 100.0 * np.log(pr / low) / math.log(high / low)


def rank(
    src: IntArray, dst: IntArray, n: int, *, exact_limit: int = EXACT_LIMIT, samples: int = SAMPLES
) -> Ranks:
    pr, iterations = pagerank(src, dst, n)
    h, exact, sources, error = harmonic(src, dst, n, exact_limit=exact_limit, samples=samples)
    return Ranks(pr, h, authority(pr), iterations, exact, sources, error)
