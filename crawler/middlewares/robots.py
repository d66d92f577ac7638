"""robots.txt per RFC 9309, fetched once per origin for the whole job and shared through Redis.

A page request reaches this middleware during its host's turn (the frontier lets one request per
host out at a time), so the worker holding the turn is the only one that can be fetching that
host's robots.txt: no locks are needed, and every other worker reads the result from Redis.

robots.txt is read up to LINKGRAPH_ROBOTS_MAX_BYTES, whatever its length: the download stops
there, and the lines that arrived whole are parsed (RFC 9309 section 2.5). A larger file is not
a failure, which would disallow the whole host. Decompressing it stays capped by
DOWNLOAD_MAXSIZE, like any page's (a compression bomb is a failure).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from scrapy import Request, signals
from scrapy.exceptions import StopDownload
from twisted.python.failure import Failure

from crawler import ROBOTS_TOKEN
from crawler.failures import (
    REFUSED_REASON,
    RobotsDisallowed,
    describe_failure,
    retried_robots_failure,
)
from crawler.frontier import Frontier, frontier_for
from crawler.robots import RobotsPolicy
from crawler.sitemaps import SitemapRegistry, host_sitemaps
from crawler.urls import host_of, origin_of, resolve

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)


# Marks a robots.txt request; the value is how many more bytes may arrive before it stops.
ROBOTS_META = "lg_robots_bytes"


class RobotsMiddleware:
    def __init__(
        self,
        crawler: Crawler,
        frontier: Frontier,
        *,
        token: str,
        ttl: float,
        max_redirects: int,
        max_bytes: int,
        max_decoded_bytes: int,
        delay: float,
        max_delay: float,
        sitemaps: str,
        max_sitemaps_per_host: int,
        off_reactor: bool = False,
    ) -> None:
        self.crawler = crawler
        # LINKGRAPH_FRONTIER_THREAD: its Redis calls wait in a thread, not on the reactor
        self.off_reactor = off_reactor
        self.sitemaps = sitemaps  # LINKGRAPH_SITEMAPS: whose sitemaps robots.txt registers
        self.sitemap_registry = SitemapRegistry(frontier, max_sitemaps_per_host)
        self.frontier = frontier
        self.token = token
        self.ttl = ttl
        self.max_redirects = max_redirects
        self.max_bytes = max_bytes
        self.max_decoded_bytes = max_decoded_bytes
        self.delay = delay
        self.max_delay = max_delay
        self._local: dict[str, tuple[float, RobotsPolicy, str]] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RobotsMiddleware:
        s = crawler.settings
        middleware = cls(
            crawler,
            frontier_for(crawler),
            token=ROBOTS_TOKEN,
            ttl=s.getfloat("LINKGRAPH_ROBOTS_TTL"),
            max_redirects=s.getint("LINKGRAPH_ROBOTS_MAX_REDIRECTS"),
            max_bytes=s.getint("LINKGRAPH_ROBOTS_MAX_BYTES"),
            max_decoded_bytes=s.getint("DOWNLOAD_MAXSIZE"),
            delay=s.getfloat("LINKGRAPH_DELAY"),
            max_delay=s.getfloat("LINKGRAPH_MAX_DELAY"),
            sitemaps=s.get("LINKGRAPH_SITEMAPS"),
            max_sitemaps_per_host=s.getint("LINKGRAPH_MAX_SITEMAPS_PER_HOST"),
            off_reactor=s.getbool("LINKGRAPH_FRONTIER_THREAD"),
        )
        crawler.signals.connect(middleware.stop_at_budget, signal=signals.bytes_received)
        return middleware

    async def process_request(self, request: Request) -> None:
        entry = request.meta.get("lg_entry")
        if entry is None:
            return  # robots.txt itself, or a request linkgraph did not schedule
        policy, failure = await self.policy_for(origin_of(entry.url), host_of(entry.url))
        if not policy.allowed(request.url, self.token):
            raise RobotsDisallowed(f"robots.txt disallows {request.url}", failure or "robots")

    async def policy_for(self, origin: str, host: str) -> tuple[RobotsPolicy, str]:
        """The origin's policy and, when robots.txt could not be had, why ("" when it could)."""
        now = time.time()
        cached = self._local.get(origin)
        if cached and cached[0] > now:
            return cached[1], cached[2]
        robots, client = self.frontier.keys.robots, self.frontier.client
        raw = cast("bytes | None", await self._redis(client.hget, robots, origin))
        if raw:
            head, _, blob = raw.partition(b"\n")
            stamp, _, failure = head.decode().partition(" ")
            if float(stamp) + self.ttl > now:
                policy = RobotsPolicy.from_bytes(blob)
                self._local[origin] = (float(stamp) + self.ttl, policy, failure)
                return policy, failure
        policy, failure = await self._fetch(origin, host)
        fetched = time.time()
        # A network failure is not kept: the politeness middleware fetches the page again
        # later, a bounded number of times, and robots.txt is fetched again with it.
        if not retried_robots_failure(failure):
            await self._redis(
                self.frontier.client.hset,
                self.frontier.keys.robots,
                origin,
                f"{fetched} {failure}\n".encode() + policy.to_bytes(),
            )
            self._local[origin] = (fetched + self.ttl, policy, failure)
        delay = self.host_delay(policy)
        await self._redis(self.frontier.set_host_delay, host, delay)
        # robots.txt was this host's request for this turn: space the page fetch after it too.
        await asyncio.sleep(delay)
        return policy, failure

    async def _redis(self, call: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.to_thread(call, *args) if self.off_reactor else call(*args)

    def host_delay(self, policy: RobotsPolicy) -> float:
        crawl_delay = policy.crawl_delay(self.token) or 0.0
        return min(max(self.delay, crawl_delay), max(self.max_delay, self.delay))

    def stop_at_budget(self, data: bytes, request: Request) -> None:
        """bytes_received handler: end a robots.txt download once max_bytes have arrived,
        keeping what did (StopDownload without fail hands the partial response on)."""
        budget = request.meta.get(ROBOTS_META)
        if budget is None:
            return
        # The download read its size cap (none) before the first byte; from here on the cap
        # only bounds decompression (HttpCompressionMiddleware), which must stay bounded.
        request.meta["download_maxsize"] = self.max_decoded_bytes
        left = budget - len(data)
        request.meta[ROBOTS_META] = left
        if left < 0:
            raise StopDownload(fail=False)

    async def _fetch(self, origin: str, host: str) -> tuple[RobotsPolicy, str]:
        """Fetch robots.txt, following up to max_redirects redirects ourselves so that hops on
        this host are spaced by the delay like any other request (RFC 9309 section 2.3.1.2)."""
        assert self.crawler.engine is not None
        url = f"{origin}/robots.txt"
        for _hop in range(self.max_redirects + 1):
            meta = {
                "dont_redirect": True,
                # No size cap: stop_at_budget ends the download at max_bytes instead of failing it.
                "download_maxsize": 0,
                ROBOTS_META: self.max_bytes,
            }
            request = Request(url, meta=meta, dont_filter=True)
            try:
                response = await self.crawler.engine.download_async(request)
            except Exception as exc:
                logger.info("robots.txt for %s failed (%s): all disallowed", origin, exc)
                reason = describe_failure(Failure(exc))
                if reason != REFUSED_REASON:
                    reason = f"robots: {reason}"
                return RobotsPolicy.from_fetch(0, b""), reason
            location = response.headers.get(b"Location")
            if 300 <= response.status < 400 and location:
                target = resolve(url, location.decode("latin-1"))
                if target is None:
                    break
                url = target
                if host_of(url) == host:
                    await asyncio.sleep(self.delay)
                continue
            failure = f"robots: HTTP {response.status}" if response.status >= 500 else ""
            found = host_sitemaps(self.sitemaps, origin, url, response.status, response.body)
            self.sitemap_registry.register(found)
            return RobotsPolicy.from_fetch(response.status, response.body, self.max_bytes), failure
        # Too many hops, or a Location that is no URL: unavailable, which means all allowed.
        logger.info("robots.txt for %s not reached after redirects: all allowed", origin)
        return RobotsPolicy.from_fetch(404, b""), ""
