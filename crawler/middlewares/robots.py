"""robots.txt per RFC 9309, fetched once per origin for the whole job and shared through Redis.

A page request reaches this middleware during its host's turn (the frontier lets one request per
host out at a time), so the worker holding the turn is the only one that can be fetching that
host's robots.txt: no locks are needed, and every other worker reads the result from Redis.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, cast

from scrapy import Request
from scrapy.exceptions import IgnoreRequest

from crawler import ROBOTS_TOKEN
from crawler.frontier import Frontier, frontier_for
from crawler.robots import RobotsPolicy
from crawler.urls import canonical_host, host_of, origin_of, resolve

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)


class RobotsDisallowed(IgnoreRequest):
    """robots.txt does not allow our product token to fetch this URL; `reason` says why, e.g.
    "robots" (a rule), "robots: HTTP 503" or "refused: non-public address" (no robots.txt)."""

    def __init__(self, message: str, reason: str = "robots") -> None:
        super().__init__(message)
        self.reason = reason


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
        delay: float,
        max_delay: float,
    ) -> None:
        self.crawler = crawler
        self.frontier = frontier
        self.token = token
        self.ttl = ttl
        self.max_redirects = max_redirects
        self.max_bytes = max_bytes
        self.delay = delay
        self.max_delay = max_delay
        self._local: dict[str, tuple[float, RobotsPolicy, str]] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RobotsMiddleware:
        s = crawler.settings
        return cls(
            crawler,
            frontier_for(crawler),
            token=ROBOTS_TOKEN,
            ttl=s.getfloat("LINKGRAPH_ROBOTS_TTL"),
            max_redirects=s.getint("LINKGRAPH_ROBOTS_MAX_REDIRECTS"),
            max_bytes=s.getint("LINKGRAPH_ROBOTS_MAX_BYTES"),
            delay=s.getfloat("LINKGRAPH_DELAY"),
            max_delay=s.getfloat("LINKGRAPH_MAX_DELAY"),
        )

    async def process_request(self, request: Request) -> None:
        entry = request.meta.get("lg_entry")
        if entry is None:
            return  # robots.txt itself, or a request linkgraph did not schedule
        policy, failure = await self.policy_for(origin_of(entry.url), canonical_host(entry.url))
        if not policy.allowed(request.url, self.token):
            raise RobotsDisallowed(f"robots.txt disallows {request.url}", failure or "robots")

    async def policy_for(self, origin: str, host: str) -> tuple[RobotsPolicy, str]:
        """The origin's policy and, when robots.txt could not be had, why ("" when it could)."""
        now = time.time()
        cached = self._local.get(origin)
        if cached and cached[0] > now:
            return cached[1], cached[2]
        raw = cast("bytes | None", self.frontier.client.hget(self.frontier.keys.robots, origin))
        if raw:
            head, _, blob = raw.partition(b"\n")
            stamp, _, failure = head.decode().partition(" ")
            if float(stamp) + self.ttl > now:
                policy = RobotsPolicy.from_bytes(blob)
                self._local[origin] = (float(stamp) + self.ttl, policy, failure)
                return policy, failure
        policy, failure = await self._fetch(origin, host)
        fetched = time.time()
        self.frontier.client.hset(
            self.frontier.keys.robots,
            origin,
            f"{fetched} {failure}\n".encode() + policy.to_bytes(),
        )
        self._local[origin] = (fetched + self.ttl, policy, failure)
        delay = self.host_delay(policy)
        self.frontier.set_host_delay(host, delay)
        # robots.txt was this host's request for this turn: space the page fetch after it too.
        await asyncio.sleep(delay)
        return policy, failure

    def host_delay(self, policy: RobotsPolicy) -> float:
        crawl_delay = policy.crawl_delay(self.token) or 0.0
        return min(max(self.delay, crawl_delay), max(self.max_delay, self.delay))

    async def _fetch(self, origin: str, host: str) -> tuple[RobotsPolicy, str]:
        """Fetch robots.txt, following up to max_redirects redirects ourselves so that hops on
        this host are spaced by the delay like any other request (RFC 9309 section 2.3.1.2)."""
        from twisted.python.failure import Failure

        from crawler.spiders.links import describe_failure

        assert self.crawler.engine is not None
        url = f"{origin}/robots.txt"
        for _hop in range(self.max_redirects + 1):
            request = Request(url, meta={"dont_redirect": True}, dont_filter=True)
            try:
                response = await self.crawler.engine.download_async(request)
            except Exception as exc:
                logger.info("robots.txt for %s failed (%s): all disallowed", origin, exc)
                reason = describe_failure(Failure(exc), url)
                if not reason.startswith("refused"):
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
            body = response.body[: self.max_bytes]
            return RobotsPolicy.from_fetch(response.status, body), failure
        # Too many hops, or a Location that is no URL: unavailable, which means all allowed.
        logger.info("robots.txt for %s not reached after redirects: all allowed", origin)
        return RobotsPolicy.from_fetch(404, b""), ""
