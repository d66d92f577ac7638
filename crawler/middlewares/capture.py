"""Archives every fetch as WARC (crawler/warc), from the bytes and headers as received.

It sits between the download handler and HttpCompressionMiddleware (590), so responses reach it
still compressed, and requests carry what every earlier middleware added (User-Agent,
Accept-Encoding). Pages, redirects, retried fetches and robots.txt (the robots middleware's
downloads pass here too) are all archived; where a response went is left in the request's meta
(`ARCHIVED_META`) for the spider to put on the page's item.

A fetch that ends without a response (no such name, a refused connection or address, a timeout,
a connection lost, a response that broke HTTP) is archived too, as a `metadata` record of the
failure (crawler/warc/capture.py), so the archive lists every URL the crawl attempted. Requests
refused before any attempt (robots.txt rules, dropped hosts, requeued leases) are not.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import redis
from scrapy.exceptions import IgnoreRequest, NotConfigured
from twisted.python.failure import Failure

from crawler.downloader import RECEIVED_HEAD_META
from crawler.failures import describe_failure
from crawler.frontier import frontier_for
from crawler.items import ARCHIVED_META
from crawler.middlewares.robots import ROBOTS_META
from crawler.sitemaps import SitemapRegistry
from crawler.warc.archive import Archive, archive_for
from crawler.warc.capture import (
    DEPTH_FIELD,
    PREREQUISITE_FIELD,
    SITEMAP_FIELD,
    Exchange,
    FailedFetch,
)

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response


def exchange_of(request: Request, response: Response, fetched_at: float) -> Exchange:
    head = request.meta.pop(RECEIVED_HEAD_META, b"")
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
        response_head=head,
    )


def _fields_of(request: Request) -> dict[str, str]:
    if ROBOTS_META in request.meta:
        return {PREREQUISITE_FIELD: "robots.txt"}
    return {DEPTH_FIELD: str(request.meta.get("depth", 0))}


class WarcCaptureMiddleware:
    def __init__(self, archive: Archive, sitemaps: SitemapRegistry) -> None:
        self.archive = archive
        self.sitemaps = sitemaps

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> WarcCaptureMiddleware:
        s = crawler.settings
        if not s.get("LINKGRAPH_WARC_DIR"):
            raise NotConfigured  # silently: archiving is opt-in
        registry = SitemapRegistry(
            frontier_for(crawler), s.getint("LINKGRAPH_MAX_SITEMAPS_PER_HOST")
        )
        return cls(archive_for(crawler), registry)

    def process_response(self, request: Request, response: Response) -> Response:
        exchange = exchange_of(request, response, time.time())
        fields = _fields_of(request)
        # Sitemaps are queued at depth 0, and only a 2xx one is read (pipelines/sitemaps.py)
        sitemap_like = fields.get(DEPTH_FIELD) == "0" and 200 <= response.status < 300
        if sitemap_like and self.sitemaps.is_sitemap(request.url):
            fields[SITEMAP_FIELD] = "true"
        request.meta[ARCHIVED_META] = self.archive.record(exchange, fields)
        return response

    def process_exception(self, request: Request, exception: Exception) -> None:
        request.meta.pop(RECEIVED_HEAD_META, None)  # a head whose body never came whole
        if isinstance(exception, (IgnoreRequest, redis.RedisError)):
            return  # not attempted (robots.txt, a dropped host, a lease), or a frontier error
        failed = FailedFetch(
            method=request.method,
            url=request.url,
            reason=describe_failure(Failure(exception)),
            error=f"{type(exception).__name__}: {exception}".strip().rstrip(":"),
            failed_at=time.time(),
        )
        self.archive.record_failure(failed, _fields_of(request))
