"""Builds Redis clients for the frontier, from a URL, with a clear error when unreachable.

Every call has socket timeouts, so none hangs on a server that stopped answering. A call that
fails for the connection's sake (refused, reset, timed out, the server still loading its
append-only file) is retried with back-off for as long as the server has been unreachable for
less than the process's timeout (LINKGRAPH_REDIS_TIMEOUT): a restarting server is waited for,
and every client of the process reconnects to it. The outage is counted per process and server
from its first failed call, not per call, so a process whose server stays away gives up after
the timeout however many calls it makes; from then on every call to that server fails at once
with RedisUnreachable, and the process ends with that one line (crawler/cli/main.py).

A node of a Redis Cluster or Valkey Cluster gets a cluster client (cluster.py) instead, found
from the server itself; its failovers count as outages of the URL it was given.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar, cast

import redis
from redis.backoff import ExponentialBackoff
from redis.exceptions import (
    BusyLoadingError,
    ConnectionError,
    NoPermissionError,
    RedisClusterException,
    TimeoutError,
)
from redis.retry import Retry

from crawler import settings as defaults
from crawler.errors import UsageError
from crawler.frontier.cluster import CLUSTER_TRANSIENT, OutageCluster, transient
from crawler.jobspec import hide_password

T = TypeVar("T")

CONNECT_TIMEOUT = 5.0  # seconds to open a connection
SOCKET_TIMEOUT = 10.0  # seconds for one reply; the frontier's calls each take milliseconds
RETRYABLE = (ConnectionError, TimeoutError, BusyLoadingError, socket.timeout)


class RedisUnreachable(ConnectionError):
    """The process gave up on its Redis server: it stayed unreachable for the timeout."""

    def __init__(self, url: str, seconds: float) -> None:
        super().__init__(f"Redis at {hide_password(url)} unreachable for {seconds:.0f} s")
        self.url = url
        self.seconds = seconds
        self.resume = ""  # the command that resumes the job, for the one-line error


class Outage:
    """Since when this process has failed to reach one server; whether it gave up on it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.since: float | None = None
        self.given_up = False
        self.gave_up_after = 0.0

    def failed(self, timeout: float) -> bool:
        """A call failed: whether to try again (the outage is still shorter than `timeout`,
        and this process is not stopping)."""
        with self._lock:
            now = time.monotonic()
            if self.since is None:
                self.since = now
            if not self.given_up and (now - self.since >= timeout or now >= _stop_deadline):
                self.given_up = True
                self.gave_up_after = now - self.since
            return not self.given_up

    def remaining(self, timeout: float) -> float:
        with self._lock:
            return 0.0 if self.since is None else timeout - (time.monotonic() - self.since)

    def ended(self) -> None:
        if self.since is not None:
            with self._lock:
                self.since = None


# Once this process is stopping, a call fails (and Redis is given up on) after this time.
_stop_deadline = float("inf")


def stop_waiting(grace: float) -> None:
    """This process is stopping: an unreachable Redis is waited for only `grace` seconds more
    (safe to call from a signal handler)."""
    global _stop_deadline
    _stop_deadline = min(_stop_deadline, time.monotonic() + grace)


# One per server URL in this process: every client of a server shares its outage. (redis-py
# deep-copies the Retry given to a client, so the state cannot live on the Retry itself.)
_OUTAGES: dict[str, Outage] = {}
_OUTAGES_LOCK = threading.Lock()


def outage_of(url: str) -> Outage:
    with _OUTAGES_LOCK:
        return _OUTAGES.setdefault(url, Outage())


class OutageRetry(Retry):
    """Retry while the server's outage is shorter than `timeout`; then fail, at once."""

    def __init__(
        self, url: str, timeout: float, errors: tuple[type[Exception], ...] = RETRYABLE
    ) -> None:
        super().__init__(ExponentialBackoff(cap=1.0, base=0.05), retries=1 << 30,
                         supported_errors=errors)  # fmt: skip
        self.url = url
        self.timeout = timeout
        self.errors = errors

    def call_with_retry(
        self,
        do: Callable[[], T],
        fail: Callable[..., Any],
        is_retryable: Callable[[Exception], bool] | None = None,
        with_failure_count: bool = False,
    ) -> T:
        outage = outage_of(self.url)
        if outage.given_up:
            raise RedisUnreachable(self.url, outage.gave_up_after)
        self._backoff.reset()
        failures = 0
        while True:
            try:
                result = do()
            except self.errors as error:
                if is_retryable and not is_retryable(error):
                    raise
                failures += 1
                if with_failure_count:
                    fail(error, failures)
                else:
                    fail(error)
                if not outage.failed(self.timeout):
                    raise RedisUnreachable(self.url, outage.gave_up_after) from error
                pause = min(self._backoff.compute(failures), outage.remaining(self.timeout))
                time.sleep(max(pause, 0.0))
            else:
                outage.ended()
                return result


class SaidOnce(logging.Filter):
    """Drops the log records caused by a Redis server this process gave up on: each component
    that touches the frontier would report it, with its traceback, and the CLI says it once."""

    def filter(self, record: logging.LogRecord) -> bool:
        causes: list[object] = list(record.args) if isinstance(record.args, tuple) else []
        if record.exc_info and record.exc_info[1] is not None:
            causes.append(record.exc_info[1])
        for cause in causes:
            seen = 0
            while isinstance(cause, BaseException) and seen < 10:
                if isinstance(cause, RedisUnreachable):
                    return False
                cause, seen = cause.__cause__ or cause.__context__, seen + 1
        return RedisUnreachable.__name__ not in record.getMessage()


def connect(
    url: str, *, check: bool = True, timeout: float = defaults.LINKGRAPH_REDIS_TIMEOUT
) -> redis.Redis:
    """A client for `url` (redis:// or rediss://) that waits up to `timeout` seconds for an
    unreachable server (see the module's doc); with `check`, ping it once so a wrong URL fails
    at start with one line instead of mid-crawl. A node of a Redis Cluster or Valkey Cluster
    (`cluster_enabled:1`) gets a cluster client (cluster.py), which finds the other nodes."""
    options: dict[str, Any] = {
        "socket_connect_timeout": min(CONNECT_TIMEOUT, timeout),
        "socket_timeout": min(SOCKET_TIMEOUT, max(timeout, 1.0)),
    }
    try:
        client = redis.Redis.from_url(
            url, health_check_interval=30, retry=OutageRetry(url, timeout),
            retry_on_error=list(RETRYABLE), **options,
        )  # fmt: skip
    except ValueError as exc:
        raise UsageError(f"bad Redis URL {hide_password(url)!r}: {exc}") from None
    if check:
        try:
            redis.Redis.from_url(url, socket_connect_timeout=CONNECT_TIMEOUT).ping()
        except redis.ResponseError as exc:  # it answers, but not to this URL (a database)
            raise UsageError(f"cannot use Redis at {hide_password(url)}: {exc}") from None
        except redis.RedisError as exc:
            raise UsageError(
                f"cannot reach Redis at {hide_password(url)}: {exc} (start it, fix --redis, or "
                "omit --redis to use the embedded server)"
            ) from None
    if not _cluster_enabled(client, url):
        return client
    client.close()
    outage = OutageRetry(url, timeout, RETRYABLE + CLUSTER_TRANSIENT)
    try:
        cluster = outage.call_with_retry(
            lambda: OutageCluster.from_url(url, outage=outage, **options),
            lambda *_: None,
            is_retryable=transient,
        )
    except RedisClusterException as exc:  # e.g. a database other than 0 in the URL
        raise UsageError(f"cannot use Redis at {hide_password(url)}: {exc}") from None
    # The frontier only calls commands that both clients have, on keys of one hash slot.
    return cast(redis.Redis, cluster)


def _cluster_enabled(client: redis.Redis, url: str) -> bool:
    """Whether the server is a node of a cluster (a server that hides INFO is taken for a
    standalone one)."""
    try:
        info = cast("dict[str, Any]", client.info("cluster"))
    except NoPermissionError:
        return False
    except redis.ResponseError as exc:  # it answers, but not to this URL (a database)
        raise UsageError(f"cannot use Redis at {hide_password(url)}: {exc}") from None
    return str(info.get("cluster_enabled", 0)) == "1"
