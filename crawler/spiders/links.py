"""The link spider: turns frontier entries into requests, and every fetch attempt into a PageItem.

It does no parsing and follows nothing itself: the extraction pipeline parses each page once and
the frontier pipeline queues what it links to, in one batch per page.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import scrapy
from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadConnectionRefusedError,
    DownloadTimeoutError,
    IgnoreRequest,
)
from scrapy.http import Request, Response
from twisted.internet.error import (
    ConnectionRefusedError,
    DNSLookupError,
    TCPTimedOutError,
    TimeoutError,
)

from crawler.frontier import Entry
from crawler.items import PageItem
from crawler.middlewares.politeness import HostDropped, Requeued
from crawler.middlewares.robots import RobotsDisallowed
from crawler.resolver import GuardedResolver, RefusedAddress, refusal_key
from crawler.urls import host_of, resolve

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from twisted.python.failure import Failure

# Response headers kept on a PageItem (the WARC writer and the index need no others).
KEPT_HEADERS = (b"content-type", b"location", b"x-robots-tag", b"content-length", b"date")


class LinkSpider(scrapy.Spider):
    name = "links"

    def __init__(self, job: str, seeds: list[str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.job = job
        self.seeds = seeds

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> LinkSpider:
        s = crawler.settings
        spider = cls(s["LINKGRAPH_JOB"], s.getlist("LINKGRAPH_SEEDS"), *args, **kwargs)
        spider._set_crawler(crawler)
        return spider

    async def start(self) -> AsyncIterator[Request]:
        # Seeds go through the scheduler's dupefilter like any URL: a resumed job skips them.
        for url in self.seeds:
            yield self.request_for(Entry.new(url, 0))

    def request_for(self, entry: Entry) -> Request:
        return Request(
            entry.url,
            callback=self.parse_page,
            errback=self.on_error,
            dont_filter=True,
            meta={
                "lg_entry": entry,
                "depth": entry.depth,
                "dont_redirect": True,  # a 3xx is a page whose one link is its Location
                "handle_httpstatus_all": True,
            },
        )

    def parse_page(self, response: Response) -> PageItem:
        entry: Entry = response.meta["lg_entry"]
        headers = {
            name.decode("latin-1").lower(): b"\n".join(values).decode("latin-1")
            for name, values in response.headers.items()
            if name.lower() in KEPT_HEADERS
        }
        content_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
        location = ""
        if 300 <= response.status < 400 and "location" in headers:
            location = resolve(entry.url, headers["location"].split("\n", 1)[0]) or ""
        return PageItem(
            job=self.job,
            url=entry.url,
            depth=entry.depth,
            status=response.status,
            content_type=content_type,
            body=response.body,
            headers=headers,
            fetched_at=time.time(),
            location=location,
        )

    def on_error(self, failure: Failure) -> PageItem | None:
        if failure.check(Requeued):
            return None  # back in the frontier: it will be recorded when it is fetched
        request = failure.request  # type: ignore[attr-defined]
        entry: Entry = request.meta["lg_entry"]
        return PageItem(
            job=self.job,
            url=entry.url,
            depth=entry.depth,
            fetched_at=time.time(),
            error=describe_failure(failure, entry.url),
        )


def describe_failure(failure: Failure, url: str = "") -> str:
    """A short, stable reason for a fetch that produced no response."""
    exc = failure.value
    if isinstance(exc, (RobotsDisallowed, HostDropped)):
        return exc.reason
    if isinstance(exc, (RefusedAddress, CannotResolveHostError, DNSLookupError)):
        if isinstance(exc, RefusedAddress) or (
            url and refusal_key(host_of(url)) in GuardedResolver.refused
        ):
            return "refused: non-public address"
        return "dns"
    if isinstance(exc, (DownloadTimeoutError, TimeoutError, TCPTimedOutError)):
        return "timeout"
    if isinstance(exc, (DownloadConnectionRefusedError, ConnectionRefusedError)):
        return "connection refused"
    if isinstance(exc, IgnoreRequest):
        return f"ignored: {exc}"[:200]
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}"[:200] if text else type(exc).__name__
