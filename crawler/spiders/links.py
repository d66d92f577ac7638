"""The link spider: turns frontier entries into requests, and every fetch attempt into a PageItem.

It does no parsing and follows nothing itself: the extraction pipeline parses each page once and
the frontier pipeline queues what it links to, in one batch per page.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import redis
import scrapy
from scrapy.http import Request, Response

from crawler.extraction import long_urls
from crawler.failures import Requeued, describe_failure, stop_for_frontier_error
from crawler.frontier import Entry, Frontier, build_frontier
from crawler.items import ARCHIVED_META, PageItem
from crawler.urls import resolve

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from twisted.python.failure import Failure

# Response headers kept on a PageItem (the WARC writer and the index need no others).
KEPT_HEADERS = (
    b"content-type", b"location", b"x-robots-tag", b"link", b"content-length", b"date",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class PageHead:
    """What a page keeps of its response head; a crawl and `ingest-warc` both build it here."""

    headers: dict[str, str]  # KEPT_HEADERS, lowercase names, repeated values joined by "\n"
    content_type: str  # media type only, lowercase
    location: str  # absolute redirect target of a 3xx, "" otherwise (or over the URL bound)
    error: str  # why a Location was left out, else ""

    @classmethod
    def of(
        cls, url: str, status: int, headers: Iterable[tuple[str, str]], max_url_length: int
    ) -> PageHead:
        joined: dict[str, list[str]] = {}
        for name, value in headers:
            if name.lower().encode("latin-1") in KEPT_HEADERS:
                joined.setdefault(name.lower(), []).append(value)
        kept = {name: "\n".join(values) for name, values in joined.items()}
        if "content-type" in kept:  # repeated, the last one counts, as in the Fetch standard
            kept["content-type"] = kept["content-type"].rpartition("\n")[2]
        content_type = kept.get("content-type", "").split(";", 1)[0].strip().lower()
        location, error = "", ""
        if 300 <= status < 400 and "location" in kept:
            location = resolve(url, kept["location"].split("\n", 1)[0]) or ""
            if 0 < max_url_length < len(location):  # unusable, and a cut URL is a wrong one
                location, error = "", long_urls(1, max_url_length)
        return cls(kept, content_type, location, error)


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
