"""Queues what a page links to: one frontier call per page, or per chunk of a page's links.

Links of the types LINKGRAPH_FOLLOW_LINK_TYPES lists (by default text, image, area and
redirect links; canonical, hreflang, frame and form links are recorded only) are followed.
Every http(s) link is followed whatever its rel (nofollow/ugc/sponsored links still lead to
pages worth indexing), unless the page itself says nofollow or the depth limit is reached.
A page's first `max_follow` distinct in-scope URLs are followed (the rest are recorded only),
queued `chunk` at a time: each frontier call is one Lua script, which holds the whole Redis
server while it runs, so no page may make one long call.
"""

from __future__ import annotations

from itertools import islice
from typing import TYPE_CHECKING

from scrapy.exceptions import NotConfigured
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet import defer

from crawler.frontier import Frontier, frontier_for
from crawler.frontier.prefetch import FrontierThread, frontier_thread_for
from crawler.items import PageItem
from crawler.scope import Scope
from crawler.urls import host_of, registered_domain

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.settings import BaseSettings


def scope_of(s: BaseSettings) -> Scope:
    """The crawl's scope, as the settings give it."""
    return Scope(
        mode=s.get("LINKGRAPH_SCOPE"),
        allow=frozenset(s.getlist("LINKGRAPH_ALLOW_DOMAINS")),
        deny=frozenset(s.getlist("LINKGRAPH_DENY_DOMAINS")),
        seed_domains=frozenset(s.getlist("LINKGRAPH_SEED_DOMAINS")),
        max_url_length=s.getint("LINKGRAPH_MAX_URL_LENGTH"),
        max_segment_repeats=s.getint("LINKGRAPH_MAX_SEGMENT_REPEATS"),
    )


class FrontierPipeline:
    def __init__(
        self,
        frontier: Frontier,
        max_depth: int,
        scope: Scope,
        *,
        max_follow: int,
        chunk: int,
        follow_types: frozenset[str],
        thread: FrontierThread | None = None,
    ) -> None:
        self.frontier = frontier
        self.thread = thread  # LINKGRAPH_FRONTIER_THREAD's: links are queued from it
        self.follow_types = follow_types
        self.max_depth = max_depth
        self.scope = scope
        self.max_follow = max_follow
        self.chunk = chunk

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> FrontierPipeline:
        if not crawler.settings.getbool("LINKGRAPH_FOLLOW_LINKS"):
            raise NotConfigured  # a re-crawl fetches known pages and records, follows nothing
        s = crawler.settings
        return cls(
            frontier_for(crawler),
            s.getint("LINKGRAPH_MAX_DEPTH"),
            scope_of(s),
            max_follow=s.getint("LINKGRAPH_MAX_LINKS_FOLLOWED"),
            chunk=max(1, s.getint("LINKGRAPH_QUEUE_CHUNK")),
            follow_types=frozenset(s.getlist("LINKGRAPH_FOLLOW_LINK_TYPES")),
            thread=frontier_thread_for(crawler),
        )

    async def process_item(self, item: PageItem) -> PageItem:
        parsed = item.parsed
        if parsed is None or parsed.nofollow or not parsed.links:
            return item
        depth = item.depth + 1
        src_domain = registered_domain(host_of(item.url))
        if self.max_depth and depth > self.max_depth:
            # said in pages.error, so where a crawl stopped (a trap's end) can be found
            if any(self.scope.follows(link.url, src_domain) for link in parsed.links
                   if link.type in self.follow_types):  # fmt: skip
                reason = f"at the depth limit {self.max_depth}: links not followed"
                parsed.incomplete = "; ".join(filter(None, (parsed.incomplete, reason)))
            return item
        kinds = self.follow_types
        # unique, in page order
        urls = dict.fromkeys(link.url for link in parsed.links if link.type in kinds)
        in_scope = (url for url in urls if self.scope.follows(url, src_domain))
        followed = islice(in_scope, self.max_follow or None)
        if self.thread is None:
            while chunk := list(islice(followed, self.chunk)):
                self.frontier.add((url, depth) for url in chunk)
            return item
        # The item goes on (to be stored, then acknowledged) once its links are queued.
        sent: defer.Deferred[PageItem] = defer.Deferred()
        chunks = []
        while chunk := list(islice(followed, self.chunk)):
            chunks.append(chunk)
        for i, chunk in enumerate(chunks):
            last = i == len(chunks) - 1
            self.thread.add(((url, depth) for url in chunk),
                            done=(lambda: sent.callback(item)) if last else (lambda: None),
                            failed=sent.errback if last else (lambda _: None))  # fmt: skip
        if not chunks:
            return item
        return await maybe_deferred_to_future(sent)
