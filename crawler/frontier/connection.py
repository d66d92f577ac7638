"""Builds Redis clients for the frontier, from a URL, with a clear error when unreachable."""

from __future__ import annotations

import redis

from crawler.errors import UsageError


def connect(url: str, *, check: bool = True) -> redis.Redis:
    """A client for `url` (redis:// or rediss://); with `check`, ping it once so a wrong URL fails
    at start with one line instead of mid-crawl."""
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=5, health_check_interval=30)
    except ValueError as exc:
        raise UsageError(f"bad Redis URL {url!r}: {exc}") from None
    if check:
        try:
            client.ping()
        except redis.RedisError as exc:
            raise UsageError(
                f"cannot reach Redis at {url}: {exc} (start it, fix --redis, or omit --redis "
                "to use the embedded server)"
            ) from None
    return client
