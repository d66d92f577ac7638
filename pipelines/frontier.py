"""Queues what a page links to: one frontier call per page, however many links it has.

Every http(s) link is followed whatever its rel (nofollow/ugc/sponsored links still lead to
pages worth indexing), unless the page itself says nofollow or the depth limit is reached.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from scrapy.exceptions import NotConfigured

from crawler.frontier import Frontier, frontier_for
from crawler.items import PageItem
from crawler.scope import Scope
from crawler.urls import canonical_host, registered_domain

if TYPE_CHECKING:
    from scrapy.crawler import Crawler


class FrontierPipeline:
    def __init__(self, frontier: Frontier, max_depth: int, scope: Scope) -> None:
        self.frontier = frontier
        self.max_depth = max_depth
        self.scope = scope

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> FrontierPipeline:
        if not crawler.settings.getbool("LINKGRAPH_FOLLOW_LINKS"):
            raise NotConfigured  # a re-crawl fetches known pages and records, follows nothing
        s = crawler.settings
        scope = Scope(
            mode=s.get("LINKGRAPH_SCOPE"),
            allow=frozenset(s.getlist("LINKGRAPH_ALLOW_DOMAINS")),
            deny=frozenset(s.getlist("LINKGRAPH_DENY_DOMAINS")),
            seed_domains=frozenset(s.getlist("LINKGRAPH_SEED_DOMAINS")),
            max_url_length=s.getint("LINKGRAPH_MAX_URL_LENGTH"),
            max_segment_repeats=s.getint("LINKGRAPH_MAX_SEGMENT_REPEATS"),
        )
        return cls(frontier_for(crawler), s.getint("LINKGRAPH_MAX_DEPTH"), scope)

    def process_item(self, item: PageItem) -> PageItem:
        parsed = item.parsed
        if parsed is None or parsed.nofollow or not parsed.links:
            return item
        depth = item.depth + 1
        if self.max_depth and depth > self.max_depth:
            return item
        src_domain = registered_domain(canonical_host(item.url))
        urls = dict.fromkeys(link.url for link in parsed.links)  # unique, in page order
        self.frontier.add((url, depth) for url in urls if self.scope.follows(url, src_domain))
        return item
