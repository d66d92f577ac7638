"""The hand-off of rows to the process that owns an embedded index, through a Redis stream.

chDB allows one process per data directory, so the workers of an embedded job hand their
batches to the coordinator over a Redis stream with a consumer group: a batch stays in the stream
until the coordinator has inserted it and ended its pages' frontier leases, so a coordinator that
dies mid-batch reads it again when it comes back. The batch's deduplication token travels with it:
a batch inserted again (read again after a crash, or added twice by a retried XADD) adds no rows.

A batch travels as Arrow columns with its token and fingerprints (crawler/columnar.py `encode`,
`decode`, which also read the JSON of older versions), and is inserted as it arrived; the batches
of one read are inserted together (crawler/coalesce.py, `StreamConsumer`).

This module is the workers' side, the sink that adds the batches to the stream; the
coordinator's side, `StreamConsumer`, is crawler/stream_consumer.py.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, cast

import redis

from crawler.columnar import encode
from crawler.frontier import Frontier, frontier_for
from crawler.frontier.keys import JobKeys
from crawler.rows import Batch

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

HANDOFF_URI = "redis-stream://frontier"  # the job's rows stream, on the frontier's Redis
# A worker waits while this many batches are queued for the coordinator (backpressure).
MAX_PENDING_BATCHES = 64


class StreamSink:
    """A worker's side: add each batch to the stream. Not durable: the coordinator ends the
    leases once it has inserted the batch. Until the coordinator takes a batch off the stream
    (stored, or spooled on its disk), the worker keeps its pages' leases alive (`taken`).

    The batch's pages lose their owner in the same transaction that hands them over: should the
    worker die next, the reaper of dead workers' leases must not return pages whose rows are in
    the stream (they would be fetched again, and stored twice). Only renewals (this worker's,
    then the coordinator's once it has read the batch) and the lease deadline apply to them.
    With P > 1 frontier partitions the owners live in other slots than the stream: the pages
    lose them first, so a worker dying in between leaves them to their lease deadline."""

    durable = False

    def __init__(
        self, client: redis.Redis, keys: JobKeys, frontier: Frontier | None = None
    ) -> None:
        self.client = client
        self.key = keys.rows
        self.owners = keys.lease_owners
        self.partitioned = frontier if frontier and frontier.partitions.count > 1 else None
        self._waiting: dict[bytes, list[str]] = {}  # message id -> its pages' fingerprints
        self._lock = threading.Lock()

    @classmethod
    def from_crawler(cls, crawler: Crawler, uri: str) -> StreamSink:
        frontier = frontier_for(crawler)
        return cls(frontier.client, frontier.keys, frontier)

    def store(self, batch: Batch) -> None:
        while self.client.xlen(self.key) >= MAX_PENDING_BATCHES:
            time.sleep(0.1)  # the coordinator is behind: slow this worker down, drop nothing
        if self.partitioned and batch.fingerprints:
            self.partitioned.disown(batch.fingerprints)
        pipe = self.client.pipeline(transaction=True)  # one slot: the keys share the job's tag
        pipe.xadd(self.key, {"batch": encode(batch)})
        if batch.fingerprints and not self.partitioned:
            pipe.hdel(self.owners, *batch.fingerprints)
        message_id = cast(bytes, pipe.execute()[0])
        with self._lock:
            self._waiting[message_id] = batch.fingerprints

    def taken(self) -> list[str]:
        """Fingerprints of the handed-over batches that the coordinator has taken off the
        stream since the last call: their leases are its to keep alive now."""
        with self._lock:
            ids = list(self._waiting)
        if not ids:
            return []
        pipe = self.client.pipeline(transaction=False)
        for message_id in ids:
            pipe.xrange(self.key, message_id, message_id)
        taken: list[str] = []
        with self._lock:
            for message_id, found in zip(ids, pipe.execute(), strict=True):
                if not found:
                    taken += self._waiting.pop(message_id)
        return taken

    def close(self) -> None:
        pass  # the frontier's connection, which the frontier owns
