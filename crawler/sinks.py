"""Where a worker's batches of rows go, chosen by URL scheme: the one registry is `SINKS`.

`chdb://PATH` is the embedded index, `http(s)://` a ClickHouse server, and `redis-stream://` the
hand-off to the process that owns an embedded index (crawler/handoff.py), which the pipeline
picks when this process is a worker of such a job. A new backend is a class with
`from_crawler(crawler, uri)`, `store`, `close` and `durable`, plus its entry in `SINKS`, the way
Scrapy's FEED_STORAGES choose a feed storage.

Storing is idempotent: a batch carries its `insert_deduplication_token`, and the tables keep a
deduplication window (deploy/clickhouse/024-026), so a batch stored again after a failure
(a timeout whose insert did land, a replay after a crash) adds no rows. Only then are its pages'
frontier leases ended: retrying the insert alone is safe, retrying insert-then-acknowledge as one
unit is not.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

from scrapy.utils.misc import load_object

from crawler.columnar import LINK_SCHEMA, PAGE_SCHEMA, arrow_stream, stream_columns
from crawler.errors import UsageError
from crawler.rows import Batch, new_token
from crawler.storage import StorageTarget, connect

if TYPE_CHECKING:
    from clickhouse_connect.driver.client import Client
    from scrapy.crawler import Crawler

SINKS: dict[str, str] = {
    "chdb": "crawler.sinks.ClickHouseSink",
    "http": "crawler.sinks.ClickHouseSink",
    "https": "crawler.sinks.ClickHouseSink",
    "redis-stream": "crawler.handoff.StreamSink",
}
WRITE_ATTEMPTS = 3  # tries of one step (an insert, an acknowledgement) before the crawl stops
# What an insert does without, for a quarter less of its CPU (benchmarks/handoff.py) and the
# same rows: optimize_on_insert would merge the block's rows of equal key, but only
# backlinks_state merges rows, backlinks_mv's block is grouped by that key already, and its
# readers aggregate anyway; one thread, since a batch is one block and threads only cost on a
# busy core.
LEAN_INSERT = {"optimize_on_insert": 0, "max_threads": 1}


class Sink(Protocol):
    # True: a stored batch is in the index, so its pages' leases can end. The hand-off is not:
    # the index owner ends them once it has inserted the batch.
    durable: bool

    def store(self, batch: Batch) -> None:
        """Store the batch; storing it again (a retry, a replay) must add nothing."""

    def close(self) -> None: ...


def open_sink(uri: str, crawler: Crawler) -> Sink:
    """The sink registered for the URI's scheme, built for this crawler."""
    scheme = urlsplit(uri).scheme
    if scheme not in SINKS:
        known = ", ".join(f"{s}://" for s in SINKS)
        raise UsageError(f"no index backend for the scheme {scheme!r}: use one of {known}")
    sink: Sink = load_object(SINKS[scheme]).from_crawler(crawler, uri)
    return sink


def retrying(step: Callable[[], Any], attempts: int = WRITE_ATTEMPTS) -> None:
    """Run one step, again after a pause when it fails: only for steps that may run twice."""
    for attempt in range(1, attempts + 1):
        try:
            step()
            return
        except Exception:
            if attempt == attempts:
                raise
            time.sleep(attempt)


def unanswered(batch: Batch) -> set[str]:
    """Fingerprints of the batch's pages recorded without a response (counted as failed):
    status 0. A response read only in part says why in `error`, yet it was answered."""
    pages = zip(batch.fingerprints, batch.pages, strict=True)
    return {fp for fp, page in pages if page.status == 0}


def insert_rows(
    client: Client,
    pages: Sequence[Sequence[Any]],
    links: Sequence[Sequence[Any]],
    token: str = "",
) -> None:
    """Insert rows (in PAGE_COLUMNS/LINK_COLUMNS order), links first: a page row means its links
    are stored. Inserted again with the same token, the rows are not stored twice.

    The rows go as Arrow columns, which ClickHouse reads itself: rows handed over that way
    (crawler/columnar.py) are inserted as they arrived, never turned into Python values."""
    token = token or new_token()
    if links:
        _insert(client, "links", arrow_stream(links, LINK_SCHEMA), token)
    if pages:
        _insert(client, "pages", arrow_stream(pages, PAGE_SCHEMA), token)


def insert_settings(client: Client, token: str) -> dict[str, Any]:
    """The batch's deduplication token, and, through a Distributed table (a cluster), an insert
    that returns only once every shard has stored its rows: a lease ends only on durable rows.
    Servers before 23.10 call that setting insert_distributed_sync."""
    settings: dict[str, Any] = {"insert_deduplication_token": token}
    for name in ("distributed_foreground_insert", "insert_distributed_sync"):
        if name in client.server_settings:
            settings[name] = 1
            break
    return settings


def _insert(client: Client, table: str, stream: bytes, token: str) -> None:
    client.raw_insert(
        table,
        stream_columns(stream),  # a batch written before a later column leaves it to its default
        stream,
        settings={**insert_settings(client, token), **LEAN_INSERT},
        fmt="ArrowStream",
    )


class ClickHouseSink:
    """The index itself: chDB in this process, or a ClickHouse server."""

    durable = True

    def __init__(self, client: Client) -> None:
        self.client = client

    @classmethod
    def from_crawler(cls, crawler: Crawler, uri: str) -> ClickHouseSink:
        s = crawler.settings
        target = StorageTarget(uri, Path(s["LINKGRAPH_DATA_DIR"]), s["LINKGRAPH_DATABASE"])
        return cls(connect(target))

    def store(self, batch: Batch) -> None:
        insert_rows(self.client, batch.pages, batch.links, batch.token)

    def close(self) -> None:
        self.client.close()  # chDB: releases the data directory for the next process
