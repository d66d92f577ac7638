"""How a request ends without a response: the exceptions linkgraph raises, and the reason
recorded for each failure; and how a worker stops when its frontier fails.

The middlewares raise these and the spider's errback records them, so both import this module
and neither imports the other.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadConnectionRefusedError,
    DownloadFailedError,
    DownloadTimeoutError,
    IgnoreRequest,
    ResponseDataLossError,
)
from scrapy.utils.defer import deferred_from_coro
from twisted.internet.error import (
    ConnectionClosed,
    ConnectionRefusedError,
    DNSLookupError,
    TCPTimedOutError,
    TimeoutError,
)
from twisted.web._newclient import ParseError  # Twisted exposes no public name for these two
from twisted.web.client import ResponseFailed
from twisted.web.http import _DataLoss, _MalformedChunkedDataError

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from twisted.python.failure import Failure

logger = logging.getLogger(__name__)

# What a page refused by the address guard is recorded with.
REFUSED_REASON = "refused: non-public address"
# The finish reason of a worker stopped by a Redis or frontier error (never "finished").
FRONTIER_ERROR = "frontier_error"
# What a page whose host name does not exist (NXDOMAIN) is recorded with: the target is gone.
NO_SUCH_NAME_REASON = "dns: no such name"
# The prefix of a response that broke HTTP/1.1 (a status line, headers, chunked framing).
INVALID_RESPONSE = "invalid response"
# The reasons of failures that may change: the URL is fetched again, a bounded number of times.
TRANSIENT_REASONS = ("dns", NO_SUCH_NAME_REASON, "timeout", "connection refused", "connection lost")


class RobotsDisallowed(IgnoreRequest):
    """robots.txt does not allow our product token to fetch this URL; `reason` says why, e.g.
    "robots" (a rule), "robots: HTTP 503" or "refused: non-public address" (no robots.txt)."""

    def __init__(self, message: str, reason: str = "robots") -> None:
        super().__init__(message)
        self.reason = reason


class HostDropped(IgnoreRequest):
    """The host failed too often; the URL is recorded with `reason`, not fetched."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Poisoned(IgnoreRequest):
    """The URL's lease was lost too often (its fetch or parse killed or hung its worker): it is
    recorded with `reason`, never fetched again."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Requeued(IgnoreRequest):
    """The URL went back to the frontier to be fetched later: nothing is recorded now."""


class RefusedAddress(DNSLookupError):
    """The host resolves to an address linkgraph does not fetch without --allow-private.

    The address guard (crawler.middlewares.addresses) raises it before a request is sent, so
    that it reaches the errback as it is: Twisted reports any lookup failing inside a
    connection as "no results", which would be indistinguishable from a DNS error. It is a
    DNSLookupError so that the resolver can raise it too, as a last line of defence that
    Twisted then drops quietly."""

    def __init__(self, host: str, address: str) -> None:
        super().__init__(None, f"{host} resolves to non-public address {address}")
        self.host = host
        self.address = address


class NameNotFound(DNSLookupError):
    """The DNS answered that the host name does not exist (NXDOMAIN), as opposed to not
    answering (a timeout, SERVFAIL), which may change. The resolver raises it and the address
    guard lets it reach the errback as it is (crawler.middlewares.addresses)."""

    def __init__(self, host: str) -> None:
        super().__init__(None, f"{host}: no such name")
        self.host = host


def invalid_response(exc: BaseException | None) -> str:
    """Why a response broke HTTP (a status line, chunked framing), "" for any other failure.

    Such a failure happens again on every fetch, so it is never retried; a connection lost
    halfway (ConnectionLost, a body cut short) is transient. Scrapy wraps Twisted's
    ResponseFailed, which lists the reasons, in DownloadFailedError or ResponseDataLossError."""
    cause = exc.__cause__ if isinstance(exc, (DownloadFailedError, ResponseDataLossError)) else exc
    if not isinstance(cause, ResponseFailed):
        return ""
    for reason in cause.reasons:
        if isinstance(reason.value, ParseError):
            return " ".join(str(arg) for arg in reason.value.args[:1]) or "parse error"
        if isinstance(reason.value, _MalformedChunkedDataError):
            return f"bad chunked encoding: {reason.value}".rstrip(": ")
    return ""


def connection_lost(exc: BaseException | None) -> bool:
    """Whether the connection closed before the response was whole (nothing broke HTTP)."""
    if isinstance(exc, ConnectionClosed):
        return True
    cause = exc.__cause__ if isinstance(exc, (DownloadFailedError, ResponseDataLossError)) else exc
    return isinstance(cause, ResponseFailed) and all(
        isinstance(reason.value, (ConnectionClosed, _DataLoss)) for reason in cause.reasons
    )


def retried_robots_failure(reason: str) -> bool:
    """Whether a page refused for `reason` because its robots.txt could not be had is fetched
    again later (with its robots.txt): a network failure, NXDOMAIN included, may change. A 5xx
    stays a refusal of the whole host for the robots.txt TTL (RFC 9309 section 2.3.1.4), and
    nothing else changes (an invalid response, a decompression bomb)."""
    return reason.startswith("robots: ") and reason[len("robots: ") :] in TRANSIENT_REASONS


def describe_failure(failure: Failure) -> str:
    """A short, stable reason for a fetch that produced no response."""
    exc = failure.value
    if isinstance(exc, (RobotsDisallowed, HostDropped, Poisoned)):
        return exc.reason
    if isinstance(exc, RefusedAddress):
        return REFUSED_REASON
    if isinstance(exc, NameNotFound):
        return NO_SUCH_NAME_REASON
    invalid = invalid_response(exc)
    if invalid:
        return f"{INVALID_RESPONSE}: {invalid}"[:200]
    if isinstance(exc, (CannotResolveHostError, DNSLookupError)):
        return "dns"
    if isinstance(exc, (DownloadTimeoutError, TimeoutError, TCPTimedOutError)):
        return "timeout"
    if isinstance(exc, (DownloadConnectionRefusedError, ConnectionRefusedError)):
        return "connection refused"
    if connection_lost(exc):
        return "connection lost"
    if isinstance(exc, IgnoreRequest):
        return f"ignored: {exc}"[:200]
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}"[:200] if text else type(exc).__name__


def stop_for_frontier_error(crawler: Crawler, error: BaseException | None) -> None:
    """Stop this worker: its frontier failed. Nothing is recorded for the request in hand (its
    lease stays out, and it is fetched again when the job resumes), and the crawl ends with
    FRONTIER_ERROR, never "finished". Said once, in one line, however many requests fail."""
    if not note_frontier_error(crawler, error):
        return
    engine = crawler.engine
    if engine is not None and engine.spider is not None:
        deferred_from_coro(engine.close_spider_async(reason=FRONTIER_ERROR))


def note_frontier_error(crawler: Crawler, error: BaseException | None) -> bool:
    """Say in one line that the frontier failed, the first time only (returns whether it was)."""
    stats = crawler.stats
    if stats is None or stats.get_value("linkgraph/frontier_error"):
        return False
    stats.set_value("linkgraph/frontier_error", 1)
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    logger.error("frontier error, stopping: %s: %s", type(error).__name__, text)
    return True
