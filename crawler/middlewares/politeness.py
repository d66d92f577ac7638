"""Ends a host's turn when its request finishes, and backs off when the host asks for it.

The frontier lets one request per host out at a time; this is the other half: the moment the
response (or the failure) is back, the host's next request becomes due after the larger of its
delay and any back-off:
- 429 and 5xx answers, and transient network failures (DNS, timeout, refused, a connection
  lost), are fetched again later (first in their host's queue, after Retry-After or an
  exponential back-off), up to a number of retries; the last attempt is what is recorded.
  What cannot change is not retried: an address refused by the guard, an invalid response (a
  broken status line, bad chunking), any other answer;
- a response slower than a threshold stretches the host's delay to that latency;
- a host failing many times in a row is parked (its delay grows), then dropped: its remaining
  URLs are recorded with the reason instead of being fetched.
"""

from __future__ import annotations

import time
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

import redis
from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadConnectionRefusedError,
    DownloadFailedError,
    DownloadTimeoutError,
    ResponseDataLossError,
)
from twisted.internet.error import (
    ConnectionLost,
    ConnectionRefusedError,
    DNSLookupError,
    TimeoutError,
)

from crawler.failures import (
    HostDropped,
    Poisoned,
    RefusedAddress,
    Requeued,
    RobotsDisallowed,
    invalid_response,
    retried_robots_failure,
)
from crawler.frontier import Entry, Frontier, frontier_for
from crawler.frontier.prefetch import FrontierThread, frontier_thread_for
from crawler.urls import host_of

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response

TRANSIENT = (
    DownloadTimeoutError, DownloadConnectionRefusedError, DownloadFailedError, TimeoutError,
    ConnectionRefusedError, ConnectionLost, ResponseDataLossError,
)  # fmt: skip
DNS_FAILURES = (CannotResolveHostError, DNSLookupError)  # NameNotFound (NXDOMAIN) included
RETRY_STATUSES = (429,)  # and every 5xx
DROPPED_REFRESH_SECONDS = 5.0


class PolitenessMiddleware:
    def __init__(
        self,
        frontier: Frontier,
        *,
        retry_times: int,
        retry_backoff: float,
        max_retry_after: float,
        slow_seconds: float,
        park_after: int,
        park_seconds: float,
        drop_after: int,
        thread: FrontierThread | None = None,
    ) -> None:
        self.frontier = frontier
        self.thread = thread  # LINKGRAPH_FRONTIER_THREAD's: releases are sent from it
        self.retry_times = retry_times
        self.retry_backoff = retry_backoff
        self.max_retry_after = max_retry_after
        self.slow_seconds = slow_seconds
        self.park_after = park_after
        self.park_seconds = park_seconds
        self.drop_after = drop_after
        self._dropped: tuple[float, dict[str, str]] = (0.0, {})
        # hosts this process dropped: seen at once, whatever the cache's age
        self._dropped_here: dict[str, str] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> PolitenessMiddleware:
        s = crawler.settings
        return cls(
            frontier_for(crawler),
            retry_times=s.getint("LINKGRAPH_RETRY_TIMES"),
            retry_backoff=s.getfloat("LINKGRAPH_RETRY_BACKOFF"),
            max_retry_after=s.getfloat("LINKGRAPH_MAX_RETRY_AFTER"),
            slow_seconds=s.getfloat("LINKGRAPH_SLOW_SECONDS"),
            park_after=s.getint("LINKGRAPH_PARK_AFTER"),
            park_seconds=s.getfloat("LINKGRAPH_PARK_SECONDS"),
            drop_after=s.getint("LINKGRAPH_DROP_AFTER"),
            thread=frontier_thread_for(crawler),
        )

    def process_request(self, request: Request) -> None:
        entry = request.meta.get("lg_entry")
        poison = request.meta.get("lg_poison")
        if poison:
            # Not a turn of its host (the scheduler took it from the poisoned, not popped it):
            # there is nothing to release.
            request.meta["lg_released"] = True
            raise Poisoned(poison)
        if entry is not None:
            host = host_of(entry.url)
            reason = self._dropped_here.get(host) or self.dropped().get(host)
            if reason:
                raise HostDropped(reason)

    def process_response(self, request: Request, response: Response) -> Response:
        entry: Entry | None = request.meta.get("lg_entry")
        if entry is None:
            return response
        if response.status in RETRY_STATUSES or response.status >= 500:
            wait = retry_after(response, self.max_retry_after)
            self._retry_or_release(request, entry, wait, f"HTTP {response.status}")
            return response
        latency = float(request.meta.get("download_latency", 0.0))
        backoff = latency if latency > self.slow_seconds else 0.0
        self._release(request, entry, backoff=backoff, failure=f"HTTP {response.status}"
                      if response.status >= 500 else "", latency=latency)  # fmt: skip
        return response

    def process_exception(self, request: Request, exception: Exception) -> None:
        entry: Entry | None = request.meta.get("lg_entry")
        if entry is None or isinstance(exception, (Requeued, redis.RedisError)):
            return  # a frontier error stops the worker (the spider's errback): no more calls
        if isinstance(exception, RefusedAddress):
            self._release(request, entry, failure="dns")
        elif invalid_response(exception):
            self._release(request, entry, failure="invalid response")
        elif isinstance(exception, TRANSIENT):
            self._retry_or_release(request, entry, None, type(exception).__name__)
        elif isinstance(exception, DNS_FAILURES):
            self._retry_or_release(request, entry, None, "dns")
        elif isinstance(exception, RobotsDisallowed) and retried_robots_failure(exception.reason):
            self._retry_or_release(request, entry, None, exception.reason)
        else:  # robots refusals, dropped hosts: the host itself is fine
            self._release(request, entry)

    def _retry_or_release(
        self, request: Request, entry: Entry, wait: float | None, failure: str
    ) -> None:
        done = self.frontier.retries(entry)
        backoff = wait if wait is not None else self.retry_backoff * 2**done
        if done < self.retry_times and self.frontier.retry(entry, backoff) >= 0:
            self._release(request, entry, backoff=backoff, failure=failure)
            raise Requeued(f"{failure}: fetched again in {backoff:.0f}s")
        self._release(request, entry, backoff=backoff, failure=failure)

    def _release(self, request: Request, entry: Entry, *, backoff: float = 0.0,
                 failure: str = "", latency: float = 0.0) -> None:  # fmt: skip
        if request.meta.get("lg_released"):
            return
        request.meta["lg_released"] = True
        host = host_of(entry.url)
        how: dict[str, Any] = {
            "backoff": backoff, "failed": bool(failure), "park_after": self.park_after,
            "park_seconds": self.park_seconds, "latency": latency,
        }  # fmt: skip
        if self.thread is not None:  # sent from the frontier thread, and dropped from there
            self.thread.release(host, lambda failures: self._released(host, failures, failure),
                                page=entry.fp, **how)  # fmt: skip
            return
        self._released(host, self.frontier.release(host, **how), failure)

    def _released(self, host: str, failures: int, failure: str) -> None:
        if self.drop_after and failures >= self.drop_after:
            reason = f"host dropped after {failures} failures in a row (last: {failure})"
            self.frontier.drop_host(host, reason)
            self.frontier.set_host_delay(host, 0.0)  # record what is left without waiting
            self._dropped_here[host] = reason
            self._dropped = (0.0, {})

    def dropped(self) -> dict[str, str]:
        read_at, hosts = self._dropped
        if time.monotonic() - read_at > DROPPED_REFRESH_SECONDS:
            hosts = self.frontier.dropped_hosts()
            self._dropped = (time.monotonic(), hosts)
        return hosts


def retry_after(response: Response, cap: float) -> float | None:
    """Seconds from a Retry-After header: delta-seconds (digits) or an HTTP date. None, for the
    default back-off, when it is neither (`NaN`, `-5`, `1e400`) or asks for more than `cap`
    seconds: a host cannot park its URLs for longer than the clamp (RFC 9110 section 10.2.3)."""
    raw = response.headers.get(b"Retry-After")
    if not raw:
        return None
    text = raw.decode("latin-1").strip()
    if text.isascii() and text.isdigit():
        seconds = float(text) if len(text) < 16 else float("inf")  # a huge one is refused
    else:
        try:
            seconds = parsedate_to_datetime(text).timestamp() - time.time()
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
    if seconds > cap:
        return None
    return max(seconds, 0.0)  # a date past: now
