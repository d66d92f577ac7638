"""Builds Redis clients for the frontier, from a URL, with a clear error when unreachable."""

from __future__ import annotations

import redis
from redis.backoff import ExponentialBackoff
from redis.exceptions import BusyLoadingError, ConnectionError, TimeoutError
from redis.retry import Retry

from crawler.errors import UsageError

# About a minute of retries, with the backoff capped at 2 s.
RETRIES = 35


def connect(url: str, *, check: bool = True) -> redis.Redis:
    """A client for `url` (redis:// or rediss://); with `check`, ping it once so a wrong URL fails
    at start with one line instead of mid-crawl."""
    try:
        # A restarting Redis (replaying its append-only file) is waited for, not given up on.
        client = redis.Redis.from_url(
            url,
            socket_connect_timeout=5,
            health_check_interval=30,
            retry=Retry(ExponentialBackoff(cap=2.0, base=0.05), retries=RETRIES),
            retry_on_error=[ConnectionError, TimeoutError, BusyLoadingError],
        )
    except ValueError as exc:
        raise UsageError(f"bad Redis URL {url!r}: {exc}") from None
    if check:
        try:
            redis.Redis.from_url(url, socket_connect_timeout=5).ping()
        except redis.RedisError as exc:
            raise UsageError(
                f"cannot reach Redis at {url}: {exc} (start it, fix --redis, or omit --redis "
                "to use the embedded server)"
            ) from None
    return client
