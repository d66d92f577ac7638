"""The hand-off of rows to the process that owns an embedded index, through a Redis stream.

chDB allows one process per data directory, so the workers of an embedded job hand their
batches to the coordinator over a Redis stream with a consumer group: a batch stays in the stream
until the coordinator has inserted it and ended its pages' frontier leases, so a coordinator that
dies mid-batch reads it again when it comes back. The batch's deduplication token travels with it:
a batch inserted again (read again after a crash, or added twice by a retried XADD) adds no rows.

A batch travels as Arrow columns with its token and fingerprints (crawler/columnar.py `encode`,
`decode`, which also read the JSON of older versions), and is inserted as it arrived.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

import redis

from crawler.columnar import decode, encode
from crawler.frontier import Frontier, frontier_for
from crawler.frontier.keys import JobKeys
from crawler.jobstats import tallies
from crawler.rows import Batch
from crawler.sinks import retrying, unanswered

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

    from crawler.sinks import Sink

HANDOFF_URI = "redis-stream://frontier"  # the job's rows stream, on the frontier's Redis
GROUP = "writers"
CONSUMER = "coordinator"
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


class StreamConsumer:
    """The coordinator's side: store every handed-over batch in the index, end its leases, then
    take it off the stream."""

    def __init__(
        self,
        client: redis.Redis,
        key: str,
        index: Sink,
        frontier: Frontier,
        record: Callable[[Batch], None] | None = None,
    ) -> None:
        self.client = client
        self.key = key
        self.index = index
        self.frontier = frontier
        # How a batch is recorded: by default stored, then its leases ended; the pipeline's
        # recorder (crawler/recorder.py) spools it instead while the index is down.
        self.record = record or self._store
        self.pages = 0
        self.links = 0
        try:
            client.xgroup_create(key, GROUP, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._backlog = True  # first read what a previous coordinator left unacknowledged

    def drain(self, block_ms: int | None = 500) -> int:
        """Process what is waiting (blocking up to block_ms for it; None: not at all)."""
        messages = self._read("0", None) if self._backlog else []
        if not messages:
            self._backlog = False
            messages = self._read(">", block_ms)
        for message_id, fields in messages:
            batch = decode(fields[b"batch"], f"{self.key}/{message_id.decode()}")
            self.record(batch)  # stored, or spooled on disk: off the stream either way
            pipe = self.client.pipeline(transaction=False)
            pipe.xack(self.key, GROUP, message_id)
            pipe.xdel(self.key, message_id)
            pipe.execute()
            self.pages += len(batch.pages)
            self.links += len(batch.links)
        return len(messages)

    def _store(self, batch: Batch) -> None:
        retrying(lambda: self.index.store(batch))
        self.frontier.ack(batch.fingerprints, unanswered(batch), tallies(batch))

    def _read(self, start: str, block_ms: int | None) -> list[Any]:
        reply: Any = self.client.xreadgroup(
            GROUP, CONSUMER, {self.key: start}, count=32, block=block_ms
        )
        return reply[0][1] if reply else []
