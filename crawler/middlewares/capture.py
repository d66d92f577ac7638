"""Archives every fetch as WARC (crawler/warc), from the bytes and headers as received.

It sits between the download handler and HttpCompressionMiddleware (590), so responses reach it
still compressed, and requests carry what every earlier middleware added (User-Agent,
Accept-Encoding). Pages, redirects, retried fetches and robots.txt (the robots middleware's
downloads pass here too) are all archived; where a response went is left in the request's meta
(`ARCHIVED_META`) for the spider to put on the page's item.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from scrapy.exceptions import NotConfigured

from crawler.items import ARCHIVED_META
from crawler.middlewares.robots import ROBOTS_META
from crawler.warc.archive import Archive, archive_for
from crawler.warc.capture import DEPTH_FIELD, PREREQUISITE_FIELD, Exchange

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response


def exchange_of(request: Request, response: Response, fetched_at: float) -> Exchange:
    return Exchange(
        method=request.method,
        url=request.url,
        request_headers=[(k, v) for k, values in request.headers.items() for v in values],
        status=response.status,
        protocol=response.protocol or "HTTP/1.1",
        response_headers=[(k, v) for k, values in response.headers.items() for v in values],
        body=response.body,
        ip_address=str(response.ip_address) if response.ip_address else "",
        fetched_at=fetched_at,
        truncated=bool({"download_stopped", "partial", "dataloss"} & set(response.flags)),
    )


class WarcCaptureMiddleware:
    def __init__(self, archive: Archive) -> None:
        self.archive = archive

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> WarcCaptureMiddleware:
        if not crawler.settings.get("LINKGRAPH_WARC_DIR"):
            raise NotConfigured  # silently: archiving is opt-in
        return cls(archive_for(crawler))

    def process_response(self, request: Request, response: Response) -> Response:
        if ROBOTS_META in request.meta:
            extra = {PREREQUISITE_FIELD: "robots.txt"}
        else:
            extra = {DEPTH_FIELD: str(request.meta.get("depth", 0))}
        exchange = exchange_of(request, response, time.time())
        request.meta[ARCHIVED_META] = self.archive.record(exchange, extra)
        return response
