"""Ends a host's turn when its request finishes, so its delay runs from the end of the fetch.

The frontier lets one request per host out at a time; this is the other half: the moment the
response (or the failure) is back, the host's next request becomes due after its delay.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from crawler.frontier import Frontier, frontier_for
from crawler.urls import canonical_host

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response


class PolitenessMiddleware:
    def __init__(self, frontier: Frontier) -> None:
        self.frontier = frontier

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> PolitenessMiddleware:
        return cls(frontier_for(crawler))

    def process_response(self, request: Request, response: Response) -> Response:
        self._release(request)
        return response

    def process_exception(self, request: Request, exception: Exception) -> None:
        self._release(request)

    def _release(self, request: Request) -> None:
        # robots.txt fetches happen inside a page request's turn, which they must not end
        entry = request.meta.get("lg_entry")
        if entry is not None and not request.meta.get("lg_released"):
            request.meta["lg_released"] = True
            # the entry's URL, as queued: Scrapy may have re-escaped request.url
            self.frontier.release(canonical_host(entry.url))
