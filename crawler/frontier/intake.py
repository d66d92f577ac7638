"""The requests Scrapy hands the scheduler: seeds, and those a component rescheduled.

The frontier's add checks and marks a URL as seen in one step, and queues each URL once per
job. `dont_filter=True` skips the dupefilter's check, and a request whose entry the frontier
handed out (it holds a lease) goes back to the head of its host queue rather than being
filtered as seen.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from crawler.failures import stop_for_frontier_error

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.dupefilters import BaseDupeFilter

    from crawler.frontier import Frontier
    from crawler.frontier.prefetch import FrontierThread
    from crawler.frontier.queue import HostQueue


def enqueue(
    request: Request,
    *,
    frontier: Frontier,
    queue: HostQueue,
    dupefilter: BaseDupeFilter,
    prefetch: FrontierThread | None,
    crawler: Crawler,
) -> bool:
    """Queue `request`; returns whether it was (a seed sent with the frontier thread counts as
    queued). Redis errors are the caller's; the frontier thread's go to `crawler`'s stop."""
    entry = request.meta.get("lg_entry")
    if request.dont_filter:
        if entry is not None and frontier.return_leases([entry]):
            return True
    elif prefetch is not None:
        # A seed, queued from the frontier thread with what comes next: the add dedupes it.
        # (So it is reported queued even when seen: nothing reads that but Scrapy's signal.)
        depth = int(request.meta.get("depth", 0))
        failed = lambda exc: stop_for_frontier_error(crawler, exc)  # noqa: E731
        prefetch.add([(request.url, depth)], done=lambda: None, failed=failed)
        return True
    elif dupefilter.request_seen(request):
        return False
    return queue.push(request) > 0
