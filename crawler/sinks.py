"""Where a worker's batches of rows go: straight into ClickHouse, or through Redis to the process
that owns the embedded chDB.

chDB allows one process per data directory, so the workers of an embedded job hand their
batches to the coordinator over a Redis stream with a consumer group: a batch stays in the stream
until the coordinator has inserted it and ended its pages' frontier leases, so a coordinator that
dies mid-batch reads it again when it comes back. Rows carry their times as unix floats (JSON
has no datetime); they become datetimes once per page, at insert time.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Protocol

import redis

from crawler.frontier import Frontier

if TYPE_CHECKING:
    from clickhouse_connect.driver.client import Client

PAGE_COLUMNS = [
    "job", "url", "host", "domain", "status", "content_type", "bytes", "depth", "fetched_at",
    "title", "canonical", "noindex", "nofollow", "error", "location", "links",
]  # fmt: skip
LINK_COLUMNS = [
    "job", "src_url", "src_host", "src_domain", "dst_url", "dst_host", "dst_domain", "anchor",
    "tag", "nofollow", "ugc", "sponsored", "page_nofollow", "fetched_at",
]  # fmt: skip
_PAGE_TIME = PAGE_COLUMNS.index("fetched_at")
_PAGE_ERROR = PAGE_COLUMNS.index("error")
_LINK_TIME = LINK_COLUMNS.index("fetched_at")
GROUP = "writers"
# A worker waits while this many batches are queued for the coordinator (backpressure).
MAX_PENDING_BATCHES = 64

Row = list[Any]


class Sink(Protocol):
    def write(self, pages: list[Row], links: list[Row], fingerprints: list[str]) -> None: ...


def failures(pages: list[Row]) -> int:
    return sum(1 for row in pages if row[_PAGE_ERROR])


def insert_rows(client: Client, pages: list[Row], links: list[Row]) -> None:
    """Insert a batch, links first: a page row means its links are stored."""
    times: dict[float, datetime] = {}

    def stamp(rows: list[Row], column: int) -> None:
        for row in rows:
            t = row[column]
            if not isinstance(t, datetime):
                row[column] = times.get(t) or times.setdefault(
                    t, datetime.fromtimestamp(t, tz=timezone.utc)
                )

    stamp(pages, _PAGE_TIME)
    stamp(links, _LINK_TIME)
    if links:
        client.insert("links", links, column_names=LINK_COLUMNS)
    if pages:
        client.insert("pages", pages, column_names=PAGE_COLUMNS)


class ClickHouseSink:
    def __init__(self, client: Client, frontier: Frontier) -> None:
        self.client = client
        self.frontier = frontier

    def write(self, pages: list[Row], links: list[Row], fingerprints: list[str]) -> None:
        insert_rows(self.client, pages, links)
        self.frontier.ack(fingerprints, failures(pages))


class StreamSink:
    def __init__(self, client: redis.Redis, key: str) -> None:
        self.client = client
        self.key = key

    def write(self, pages: list[Row], links: list[Row], fingerprints: list[str]) -> None:
        while self.client.xlen(self.key) >= MAX_PENDING_BATCHES:
            time.sleep(0.1)  # the coordinator is behind: slow this worker down, drop nothing
        payload = json.dumps([pages, links, fingerprints], separators=(",", ":"))
        self.client.xadd(self.key, {"batch": payload})


class StreamConsumer:
    """The coordinator's side: insert every handed-over batch, then end its leases."""

    def __init__(self, client: redis.Redis, key: str, storage: Client, frontier: Frontier) -> None:
        self.client = client
        self.key = key
        self.storage = storage
        self.frontier = frontier
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
        start = "0" if self._backlog else ">"
        reply: Any = self.client.xreadgroup(
            GROUP, "coordinator", {self.key: start}, count=32,
            block=None if self._backlog else block_ms,
        )  # fmt: skip
        messages = reply[0][1] if reply else []
        if self._backlog and not messages:
            self._backlog = False
        for message_id, fields in messages:
            pages, links, fingerprints = json.loads(fields[b"batch"])
            insert_rows(self.storage, pages, links)
            self.frontier.ack(fingerprints, failures(pages))
            pipe = self.client.pipeline(transaction=False)
            pipe.xack(self.key, GROUP, message_id)
            pipe.xdel(self.key, message_id)
            pipe.execute()
            self.pages += len(pages)
            self.links += len(links)
        return len(messages)
