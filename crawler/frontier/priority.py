"""Priority hooks: which queued URL of a host is fetched first (smaller first).

Set `LINKGRAPH_PRIORITY` to the import path of any function (url, depth) -> int in
[0, 2**20). Within one priority URLs are fetched in the order they were found.
"""

from __future__ import annotations

MAX_PRIORITY = 2**20 - 1


def by_depth(url: str, depth: int) -> int:
    """Breadth-first: shallower pages first, so no host can be crawled depth-first."""
    return min(depth, MAX_PRIORITY)


def shortest_path_first(url: str, depth: int) -> int:
    """Within a depth, URLs with fewer path segments first (home and section pages)."""
    segments = url.split("?", 1)[0].count("/") - 2
    return min(depth * 64 + min(segments, 63), MAX_PRIORITY)
