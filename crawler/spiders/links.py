"""The link spider: turns frontier entries into requests, and every fetch attempt into a PageItem.

It does no parsing and follows nothing itself: the extraction pipeline parses each page once and
the frontier pipeline queues what it links to, in one batch per page.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import redis
import scrapy
from scrapy.http import Request, Response

from crawler.failures import Requeued, describe_failure, stop_for_frontier_error
from crawler.frontier import Entry, Frontier, build_frontier
from crawler.items import ARCHIVED_META, PageItem
from crawler.page_head import PageHead

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from twisted.python.failure import Failure


class LinkSpider(scrapy.Spider):
    name = "links"

    def __init__(self, job: str, seeds: list[str], frontier: Frontier, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.job = job
        self.seeds = seeds
        # The crawler's frontier: Scrapy builds the spider before any other component, and
        # they all reach it through crawler.frontier.frontier_for(crawler).
        self.frontier = frontier

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> LinkSpider:
        s = crawler.settings
        spider = cls(
            s["LINKGRAPH_JOB"], s.getlist("LINKGRAPH_SEEDS"), build_frontier(s), *args, **kwargs
        )
        spider._set_crawler(crawler)
        return spider

    async def start(self) -> AsyncIterator[Request]:
        # A seed is checked against the job's seen URLs like any link: a resumed job skips it.
        for url in self.seeds:
            yield self.request_for(Entry.new(url, 0)).replace(dont_filter=False)

    def request_for(self, entry: Entry) -> Request:
        return Request(
            entry.url,
            callback=self.parse_page,
            errback=self.on_error,
            # Popped from the frontier, which let the URL in once: should a component reschedule
            # the request, it goes back to its host queue instead of being filtered as seen.
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
        head = PageHead.of(
            entry.url,
            response.status,
            ((name.decode("latin-1"), value.decode("latin-1"))
             for name, values in response.headers.items() for value in values),
            self.settings.getint("LINKGRAPH_MAX_LINK_URL_LENGTH"),
        )  # fmt: skip
        return PageItem(
            job=self.job,
            url=entry.url,
            depth=entry.depth,
            status=response.status,
            content_type=head.content_type,
            body=response.body,
            headers=head.headers,
            fetched_at=time.time(),
            location=head.location,
            error=head.error,
            archived=response.meta.get(ARCHIVED_META),
        )

    def on_error(self, failure: Failure) -> PageItem | None:
        if failure.check(Requeued):
            return None  # back in the frontier: it will be recorded when it is fetched
        if failure.check(redis.RedisError):
            # The frontier failed (a middleware's call), not the page: record nothing, stop.
            stop_for_frontier_error(self.crawler, failure.value)
            return None
        request = failure.request  # type: ignore[attr-defined]
        entry: Entry = request.meta["lg_entry"]
        return PageItem(
            job=self.job,
            url=entry.url,
            depth=entry.depth,
            fetched_at=time.time(),
            error=describe_failure(failure),
        )
