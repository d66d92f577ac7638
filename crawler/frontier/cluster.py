"""The frontier's client of a Redis Cluster or Valkey Cluster (connection.py picks it when the
server says `cluster_enabled:1`).

redis-py's `RedisCluster` routes each command to the master of its key's hash slot, follows
MOVED and ASK redirects, and after a connection error asks the live nodes for the slot map
again, which is how it finds the replica that took over from a dead master. It retries only a
few times, at once: spacing the attempts and giving up are left to the process's outage
(connection.py), the same as for a standalone server. So each command, and each pipeline as a
whole, is one attempt of an `OutageRetry`: a failover, or a node restarting, is waited for up to
LINKGRAPH_REDIS_TIMEOUT, then the process ends with one line.

Every key of a job shares its hash tag (keys.py), so each Lua script and each MULTI touches one
slot, which one master holds.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from redis.backoff import NoBackoff
from redis.cluster import RedisCluster
from redis.exceptions import (
    ClusterDownError,
    ClusterError,
    ConnectionError,
    RedisClusterException,
    SlotNotCoveredError,
    TimeoutError,
    TryAgainError,
)
from redis.retry import Retry

T = TypeVar("T")

# Errors of a cluster in transition (a failover, a slot moving), besides connection errors.
CLUSTER_TRANSIENT = (ClusterDownError, SlotNotCoveredError, TryAgainError, RedisClusterException)
# Times the client tries again at once (its slot map refreshed) before an attempt fails.
QUICK_RETRIES = 2


def transient(error: Exception) -> bool:
    """Whether the cluster may answer a later attempt. RedisClusterException is also what a
    client's misuse raises: it is transient only when no node could be reached, or the slot
    map the nodes gave is incomplete (a master is failing over)."""
    if not isinstance(error, RedisClusterException) or isinstance(error, SlotNotCoveredError):
        return True
    cause = error.__cause__ or error.__context__
    return isinstance(cause, (ConnectionError, TimeoutError)) or "not covered" in str(error)


class OutageCluster(RedisCluster):
    """A RedisCluster whose commands and pipelines wait out an outage (see the module doc)."""

    def __init__(self, *, outage: Retry, **kwargs: Any) -> None:
        self.outage = outage
        super().__init__(retry=Retry(NoBackoff(), QUICK_RETRIES), **kwargs)

    def attempt(self, call: Callable[[], T]) -> T:
        """Run `call` until it succeeds or the outage gives up; a client error that no retry
        mends is raised as a RedisError, so the frontier's callers treat it as one."""
        try:
            return self.outage.call_with_retry(call, _nothing, is_retryable=transient)
        except RedisClusterException as exc:
            raise ClusterError(f"{type(exc).__name__}: {exc}") from exc

    def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        return self.attempt(lambda: super(OutageCluster, self).execute_command(*args, **kwargs))

    def pipeline(self, transaction: Any = None, shard_hint: Any = None) -> Any:
        return RetriedPipeline(self, bool(transaction))


def _nothing(*_: object) -> None:
    """After a failed attempt the client has already dropped the connection and refreshed its
    slot map: nothing more to do."""


class RetriedPipeline:
    """A cluster pipeline sent again whole after a connection error: its commands are queued
    here, and each attempt hands them to a fresh pipeline of the client (one of redis-py's is
    emptied by a failed execute). A MULTI (`transaction`) must keep to one slot. A script runs
    in it by EVAL, with its source: the nodes a pipeline reaches may not have loaded it."""

    def __init__(self, client: OutageCluster, transaction: bool) -> None:
        self._client = client
        self._transaction = transaction
        self._queued: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []

    def __getattr__(self, command: str) -> Callable[..., RetriedPipeline]:
        if command.startswith("_") or not callable(getattr(RedisCluster, command, None)):
            raise AttributeError(command)

        def queue(*args: Any, **kwargs: Any) -> RetriedPipeline:
            self._queued.append((command, args, kwargs))
            return self

        return queue

    def __len__(self) -> int:
        return len(self._queued)

    def __enter__(self) -> RetriedPipeline:
        return self

    def __exit__(self, *exc: object) -> None:
        self.reset()

    def reset(self) -> None:
        self._queued = []

    def execute(self, raise_on_error: bool = True) -> list[Any]:
        queued, self._queued = self._queued, []
        if not queued:
            return []

        def send() -> list[Any]:
            pipe = RedisCluster.pipeline(self._client, transaction=self._transaction)
            for command, args, kwargs in queued:
                if command == "eval":  # which redis-py's cluster pipeline leaves unimplemented
                    pipe.execute_command("EVAL", *args, **kwargs)
                else:
                    getattr(pipe, command)(*args, **kwargs)
            return list(pipe.execute(raise_on_error))

        return self._client.attempt(send)
