"""The coordinator's side of the hand-off: the consumer that stores the batches in the index.

The workers of an embedded job add their batches to a Redis stream (crawler/handoff.py, which
says why); the process that owns the index reads them with a consumer group, stores them,
ends their pages' frontier leases, and acknowledges them. A batch stays in the stream until it
is recorded, so a coordinator that dies mid-batch reads it again when it comes back, and its
deduplication token keeps a batch inserted again from adding rows. The batches of one read are
inserted together (crawler/coalesce.py).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import redis

from crawler.coalesce import GROUP_ROWS, Group, joined, plan
from crawler.columnar import decode
from crawler.frontier import Frontier
from crawler.jobstats import tallies
from crawler.rows import Batch
from crawler.sinks import retrying, unanswered

if TYPE_CHECKING:
    from crawler.sinks import Sink

GROUP = "writers"
CONSUMER = "coordinator"
# Tokens of the batches recorded last, kept to tell a batch added twice to the stream (an XADD
# retried after its reply was lost) from a new one: a few minutes of batches at any rate.
RECORDED_TOKENS = 10_000


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
