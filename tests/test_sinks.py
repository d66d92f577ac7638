"""Sinks: chosen by URL scheme, idempotent inserts, and the hand-off stream that loses no field and
stores a batch once however often it is delivered. Real Valkey and real chDB."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timezone
from pathlib import Path
from typing import Any

import pytest
import redis
from clickhouse_connect.driver.client import Client
from scrapy import Spider
from scrapy.crawler import Crawler
from scrapy.settings import Settings

from crawler.columnar import decode, encode
from crawler.errors import UsageError
from crawler.frontier import Frontier, build_frontier, fingerprint
from crawler.handoff import HANDOFF_URI, StreamSink
from crawler.rows import LINK_COLUMNS, PAGE_COLUMNS, Batch, LinkRow, PageRow
from crawler.sinks import SINKS, ClickHouseSink, open_sink, unanswered
from crawler.storage import StorageTarget
from crawler.stream_consumer import CONSUMER, GROUP, StreamConsumer

JOB = "sinks"
WHEN = 1_767_225_600_123


def make_batch(pages: int, links_per_page: int, *, first: int = 0) -> Batch:
    """Pages on distinct hosts, each with its links; every field holds a telling value."""
    batch = Batch()
    for p in range(first, first + pages):
        host = f"www.site{p}.example"
        url = f"http://{host}/page"
        error = "timeout" if p % 5 == 4 else ""
        batch.pages.append(
            PageRow(
                JOB, url, host, f"site{p}.example", 0 if error else 200, "text/html", 100 + p,
                p % 3, WHEN + p, f"title {p}", f"http://{host}/c", p % 2, (p + 1) % 2, error,
                f"http://{host}/to" if p % 7 == 0 else "", links_per_page,
            )
        )  # fmt: skip
        batch.links.extend(
            LinkRow(
                JOB, url, host, f"site{p}.example", f"http://www.t{k}.example/{p}",
                f"www.t{k}.example", f"t{k}.example", f"anchor {p} {k}", "a",
                "image" if k % 4 == 0 else "text", k % 2, int(k % 3 == 0), int(k % 5 == 0),
                (p + 1) % 2, WHEN + p,
            )
            for k in range(links_per_page)
        )  # fmt: skip
        batch.fingerprints.append(fingerprint(url))
    return batch


@pytest.fixture
def index(tmp_path: Path) -> Iterator[ClickHouseSink]:
    sink = ClickHouseSink.from_crawler(crawler_for(tmp_path, ""), f"chdb://{tmp_path}/index")
    yield sink
    sink.close()


def crawler_for(data_dir: Path, redis_url: str) -> Crawler:
    """A crawler as the pipeline sees it: settings, and a spider with the job's frontier."""
    settings = Settings()
    settings.setmodule("crawler.settings")
    settings.setdict(
        {"LINKGRAPH_DATA_DIR": str(data_dir), "LINKGRAPH_JOB": JOB, "REDIS_URL": redis_url}
    )
    crawler = Crawler(Spider, settings)
    if redis_url:
        crawler.spider = Spider(name="links")
        crawler.spider.frontier = build_frontier(settings)  # type: ignore[attr-defined]
    return crawler


def stored(client: Client, table: str, columns: tuple[str, ...]) -> list[tuple[Any, ...]]:
    """The table's rows in declared column order, times back as milliseconds."""
    rows = client.query(f"SELECT {', '.join(columns)} FROM {table}").result_rows
    when = columns.index("fetched_at")
    out = []
    for row in rows:
        t = row[when].replace(tzinfo=timezone.utc)
        out.append((*row[:when], round(t.timestamp() * 1000), *row[when + 1 :]))
    return sorted(out)


def as_stored(rows: list[PageRow] | list[LinkRow]) -> list[tuple[Any, ...]]:
    return sorted(tuple(row) for row in rows)


def counts(client: Client) -> tuple[int, ...]:
    return tuple(
        client.query(
            "SELECT (SELECT count() FROM pages), (SELECT count() FROM links), "
            "(SELECT count() FROM backlinks_state)"
        ).result_rows[0]
    )


def test_the_registry_knows_each_backend_once() -> None:
    assert SINKS == {
        "chdb": "crawler.sinks.ClickHouseSink",
        "http": "crawler.sinks.ClickHouseSink",
        "https": "crawler.sinks.ClickHouseSink",
        "redis-stream": "crawler.handoff.StreamSink",
    }
    with pytest.raises(
        UsageError, match=r"no index backend for the scheme 'kafka': use one of chdb://"
    ):
        open_sink("kafka://broker/topic", crawler_for(Path("unused"), ""))


def test_the_scheme_chooses_the_sink(
    tmp_path: Path, redis_server: str, redis_client: redis.Redis
) -> None:
    crawler = crawler_for(tmp_path, redis_server)
    target = StorageTarget("", tmp_path)
    index = open_sink(target.uri, crawler)
    try:
        assert isinstance(index, ClickHouseSink) and index.durable
        index.store(make_batch(2, 3))
        assert counts(index.client) == (2, 6, 6)
    finally:
        index.close()
    assert (tmp_path / "clickhouse").is_dir()  # the embedded index of the data directory
    handoff = open_sink(HANDOFF_URI, crawler)
    assert isinstance(handoff, StreamSink) and not handoff.durable
    assert handoff.key == Frontier(redis_client, JOB).keys.rows


def test_a_batch_stored_again_adds_no_rows(index: ClickHouseSink) -> None:
    batch = make_batch(200, 100)  # a full batch: the driver sends it in several blocks
    index.store(batch)
    index.store(batch)  # a retry after an insert that did land
    assert counts(index.client) == (200, 20_000, 20_000)
    assert stored(index.client, "pages", PAGE_COLUMNS) == as_stored(batch.pages)
    assert stored(index.client, "links", LINK_COLUMNS) == as_stored(batch.links)
    again = Batch(batch.pages, batch.links, batch.fingerprints)  # the same rows, a new batch
    index.store(again)
    assert counts(index.client) == (400, 40_000, 40_000)


def test_the_handoff_keeps_every_field() -> None:
    batch = make_batch(3, 4)
    back = decode(encode(batch), "unused")
    assert back == batch and back.token == batch.token
    assert all(type(row) is PageRow for row in back.pages)
    assert all(type(row) is LinkRow for row in back.links)
    # written before batches carried a token: the stream message names it
    old = '[[["j","u","h","d",200,"t",1,0,1.5,"","",0,0,"","",0]],[],["fp"]]'
    assert decode(old, "lg:{j}:rows/1-0").token == "lg:{j}:rows/1-0"


def test_only_pages_without_a_response_count_as_failed() -> None:
    batch = make_batch(10, 0)  # pages 4 and 9: status 0, "timeout"
    page = batch.pages[0]._replace(error="100000 links recorded: 25 more <a>/<area> not read")
    batch.pages[0] = page
    assert page.status == 200
    assert unanswered(batch) == {batch.fingerprints[4], batch.fingerprints[9]}


def leased(frontier: Frontier, batch: Batch) -> Batch:
    """The batch's pages queued and leased, as a worker would have them."""
    frontier.add((page.url, 0) for page in batch.pages)
    popped = frontier.pop(len(batch.pages)).entries
    assert sorted(e.url for e in popped) == sorted(page.url for page in batch.pages)
    return Batch(batch.pages, batch.links, [e.fp for e in popped], batch.token)


def test_a_batch_handed_over_twice_is_stored_once(
    index: ClickHouseSink, redis_client: redis.Redis
) -> None:
    frontier = Frontier(redis_client, JOB, delay=0)
    batch = leased(frontier, make_batch(10, 5))
    worker = StreamSink(redis_client, frontier.keys)
    worker.store(batch)
    worker.store(batch)  # an XADD retried after its reply was lost
    consumer = StreamConsumer(redis_client, frontier.keys.rows, index, frontier)
    while consumer.drain(block_ms=None):
        pass
    assert counts(index.client) == (10, 50, 50)
    assert stored(index.client, "pages", PAGE_COLUMNS) == as_stored(batch.pages)
    assert stored(index.client, "links", LINK_COLUMNS) == as_stored(batch.links)
    assert redis_client.hlen(frontier.keys.leases) == 0
    assert redis_client.xlen(frontier.keys.rows) == 0


def test_handed_over_pages_outlive_their_dead_worker(redis_client: redis.Redis) -> None:
    """A worker that dies right after handing a batch over: the reaper of dead workers' leases
    returns only what it had not handed over; the batch's pages stay leased for the coordinator,
    who would otherwise store rows of pages fetched again meanwhile."""
    frontier = Frontier(redis_client, JOB, delay=0)
    batch = make_batch(6, 2)
    frontier.add((page.url, 0) for page in batch.pages)
    popped = frontier.pop(6, worker="w1").entries
    handed = Batch(batch.pages[:4], [], [fingerprint(p.url) for p in batch.pages[:4]])
    StreamSink(redis_client, frontier.keys).store(handed)
    owners = redis_client.hgetall(frontier.keys.lease_owners)
    kept = sorted(e.fp for e in popped if e.fp not in handed.fingerprints)
    assert sorted(fp.decode() for fp in owners) == kept
    assert len(kept) == 2

    redis_client.zadd(frontier.keys.workers, {"w1": time.time() - 100})  # its heartbeat lapsed
    assert frontier.reap() == 2
    leased = sorted(fp.decode() for fp in redis_client.hkeys(frontier.keys.leases))
    assert leased == sorted(handed.fingerprints)
    assert redis_client.xlen(frontier.keys.rows) == 1


def test_a_batch_read_again_after_a_coordinator_crash_is_stored_once(
    index: ClickHouseSink, redis_client: redis.Redis
) -> None:
    frontier = Frontier(redis_client, JOB, delay=0)
    first, second = leased(frontier, make_batch(4, 3)), leased(frontier, make_batch(4, 3, first=4))
    worker = StreamSink(redis_client, frontier.keys)
    worker.store(first)
    worker.store(second)
    StreamConsumer(redis_client, frontier.keys.rows, index, frontier)  # creates the group
    # The coordinator read both batches, inserted the first and died before acknowledging it.
    reply: Any = redis_client.xreadgroup(GROUP, CONSUMER, {frontier.keys.rows: ">"})
    assert len(reply[0][1]) == 2
    index.store(decode(reply[0][1][0][1][b"batch"], "unused"))
    assert counts(index.client) == (4, 12, 12)

    restarted = StreamConsumer(redis_client, frontier.keys.rows, index, frontier)
    assert restarted.drain(block_ms=None) == 2  # its backlog: both batches, read again
    assert restarted.drain(block_ms=None) == 0
    assert counts(index.client) == (8, 24, 24)
    expected = as_stored(first.pages + second.pages)
    assert stored(index.client, "pages", PAGE_COLUMNS) == expected
    assert redis_client.hlen(frontier.keys.leases) == 0
    assert redis_client.xpending(frontier.keys.rows, GROUP)["pending"] == 0
