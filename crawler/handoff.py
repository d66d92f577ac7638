"""The hand-off of rows to the process that owns an embedded index, through a Redis stream.

chDB allows one process per data directory, so the workers of an embedded job hand their
batches to the coordinator over a Redis stream with a consumer group: a batch stays in the stream
until the coordinator has inserted it and ended its pages' frontier leases, so a coordinator that
dies mid-batch reads it again when it comes back. The batch's deduplication token travels with it:
a batch inserted again (read again after a crash, or added twice by a retried XADD) adds no rows.

A batch travels as Arrow columns with its token and fingerprints (crawler/columnar.py `encode`,
`decode`, which also read the JSON of older versions), and is inserted as it arrived; the batches
of one read are inserted together (crawler/coalesce.py, `StreamConsumer`).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

import redis

from crawler.coalesce import Group, joined, plan
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
# Link rows of one insert at most when the coordinator stores several batches as one: ten
# batches of the default LINKGRAPH_BATCH_ROWS, about 25 MB as ClickHouse's insert block.
GROUP_ROWS = 200_000
# Tokens of the batches recorded last, kept to tell a batch added twice to the stream (an XADD
# retried after its reply was lost) from a new one: a few minutes of batches at any rate.
RECORDED_TOKENS = 10_000


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
    take it off the stream.

    The batches of one read are stored together, up to `group_rows` link rows per insert
    (crawler/coalesce.py): a coordinator with a backlog makes fewer, larger inserts. Before a
    group is stored, its entries and token are written next to the stream (`grouped`), and they
    leave it in the transaction that takes the group off the stream; a coordinator that died
    meanwhile forms the same groups again from there, so a group that was inserted is dropped as
    a repeat. Entries left by a coordinator that recorded no group are stored one by one, as
    they were read. A batch in the stream twice (a worker's XADD retried) is recorded once: the
    tokens of the batches recorded lately (`recorded`) are noted in the transaction that takes
    them off the stream, and an entry whose token was recorded, or is earlier in its read, is
    only taken off."""

    def __init__(
        self,
        client: redis.Redis,
        key: str,
        index: Sink,
        frontier: Frontier,
        record: Callable[[Batch], None] | None = None,
        group_rows: int = GROUP_ROWS,
    ) -> None:
        self.client = client
        self.key = key
        # Next to the stream, on the job's hash tag (one slot): the groups being recorded, and
        # the tokens of the batches recorded lately.
        self.grouped = f"{key}:grouped"
        self.recorded = f"{key}:recorded"
        self.index = index
        self.frontier = frontier
        # How a batch is recorded: by default stored, then its leases ended; the pipeline's
        # recorder (crawler/recorder.py) spools it instead while the index is down.
        self.record = record or self._store
        self.group_rows = group_rows
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
        backlog = self._backlog
        messages = self._read("0", None) if backlog else []
        if not messages:
            self._backlog = backlog = False
            messages = self._read(">", block_ms)
        if not messages:
            return 0
        try:
            return self._process(messages, backlog)
        except BaseException:
            self._backlog = True  # what is left is read again first, in the groups recorded
            raise

    def _process(self, messages: list[Any], backlog: bool) -> int:
        batches = {mid.decode(): self._decode(mid.decode(), fields) for mid, fields in messages}
        groups = self._recorded_groups() if backlog else None
        for _, ids in groups or []:
            batches.update(self._entries([mid for mid in ids if mid not in batches]))
        tokens = list({batch.token for batch in batches.values()})
        scores = self.client.zmscore(self.recorded, tokens) if tokens else []
        recorded = {t for t, score in zip(tokens, scores, strict=True) if score is not None}
        todo = plan(batches, recorded, self.group_rows, groups)
        if groups is None and todo.groups:
            self.client.set(self.grouped, json.dumps(todo.groups))
        for at, (token, ids) in enumerate(todo.groups):
            members = [batches[mid] for mid in ids if mid in batches]
            group = joined(members, token) if members else None
            tokens = [batch.token for batch in members]
            self._take(ids, group, tokens, todo.groups[at + 1 :])
        for mid in todo.singles:
            self._take([mid], batches[mid], [batches[mid].token])
        if todo.repeats:
            self._take(todo.repeats, None, [])
        return len(batches)

    def _recorded_groups(self) -> list[Group]:
        recorded = self.client.get(self.grouped)
        return [(token, ids) for token, ids in json.loads(recorded)] if recorded else []

    def _take(
        self,
        ids: list[str],
        batch: Batch | None,
        tokens: list[str],
        later: list[Group] | None = None,
    ) -> None:
        """Record the batch (None: repeats, recorded already), then, in one transaction, take
        its entries off the stream, note the tokens of the batches it holds as recorded, and
        take a group off `grouped` (`later`: the groups still to record)."""
        if batch is not None:
            self.record(batch)  # stored, or spooled on disk: off the stream either way
        pipe = self.client.pipeline(transaction=True)
        pipe.xack(self.key, GROUP, *ids)
        pipe.xdel(self.key, *ids)
        if tokens:
            now = time.time()
            pipe.zadd(self.recorded, dict.fromkeys(tokens, now))
            pipe.zremrangebyrank(self.recorded, 0, -RECORDED_TOKENS - 1)
        if later:
            pipe.set(self.grouped, json.dumps(later))
        elif later is not None:
            pipe.delete(self.grouped)
        pipe.execute()
        if batch is not None:
            self.pages += len(batch.pages)
            self.links += len(batch.links)

    def _entries(self, ids: list[str]) -> dict[str, Batch]:
        """Entries of a recorded group that this read did not return, read by id."""
        if not ids:
            return {}
        pipe = self.client.pipeline(transaction=False)
        for mid in ids:
            pipe.xrange(self.key, mid, mid)
        found = [entry for reply in pipe.execute() for entry in reply]
        return {mid.decode(): self._decode(mid.decode(), fields) for mid, fields in found}

    def _decode(self, mid: str, fields: dict[bytes, bytes]) -> Batch:
        return decode(fields[b"batch"], f"{self.key}/{mid}")

    def _store(self, batch: Batch) -> None:
        retrying(lambda: self.index.store(batch))
        self.frontier.ack(batch.fingerprints, unanswered(batch), tallies(batch))

    def _read(self, start: str, block_ms: int | None) -> list[Any]:
        reply: Any = self.client.xreadgroup(
            GROUP, CONSUMER, {self.key: start}, count=32, block=block_ms
        )
        return reply[0][1] if reply else []
