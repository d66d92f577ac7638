"""The coordinator stores the batches of one stream read as one insert (crawler/coalesce.py), and
a joined insert stored again (read again after a crash, replayed from the spool), or a batch that
is in the stream twice, adds no rows. Real Valkey and real chDB."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from clickhouse_connect.driver.client import Client

from crawler.coalesce import group_token, joined
from crawler.columnar import decode, encode
from crawler.frontier import Frontier
from crawler.handoff import StreamSink
from crawler.jobstats import tallies
from crawler.rows import LINK_COLUMNS, PAGE_COLUMNS, Batch
from crawler.sinks import ClickHouseSink
from crawler.spool import Spool
from crawler.storage import StorageTarget, connect
from crawler.stream_consumer import GROUP, GROUP_ROWS, StreamConsumer
from tests.test_sinks import JOB, as_stored, counts, leased, make_batch, stored


@pytest.fixture
def index(tmp_path: Path) -> Iterator[ClickHouseSink]:
    sink = ClickHouseSink(connect(StorageTarget(f"chdb://{tmp_path}/index", tmp_path)))
    sink.client.command("SYSTEM STOP MERGES")  # each insert's part stays: parts count inserts
    yield sink
    sink.close()


class Died(Exception):
    """The coordinator died after its insert, before taking the batches off the stream."""


def parts(client: Client, table: str) -> int:
    return int(
        client.query(
            "SELECT count() FROM system.parts WHERE active AND database = currentDatabase() "
            f"AND table = '{table}'"
        ).result_rows[0][0]
    )


def handed_over(redis_client: redis.Redis, frontier: Frontier, sizes: list[int]) -> list[Batch]:
    """Batches of 3 pages each, `size` links a page, leased and added to the stream."""
    batches = [leased(frontier, make_batch(3, size, first=3 * at)) for at, size in enumerate(sizes)]
    worker = StreamSink(redis_client, frontier.keys)
    for batch in batches:
        worker.store(batch)
    return batches


def assert_stored_once(index: ClickHouseSink, batches: list[Batch]) -> None:
    pages = [page for batch in batches for page in batch.pages]
    links = [link for batch in batches for link in batch.links]
    assert stored(index.client, "pages", PAGE_COLUMNS) == as_stored(pages)
    assert stored(index.client, "links", LINK_COLUMNS) == as_stored(links)
    assert counts(index.client) == (len(pages), len(links), len(links))


def assert_off_the_stream(redis_client: redis.Redis, consumer: StreamConsumer) -> None:
    assert redis_client.xlen(consumer.key) == 0
    assert redis_client.xpending(consumer.key, GROUP)["pending"] == 0
    assert redis_client.exists(consumer.grouped) == 0
    assert redis_client.hlen(consumer.frontier.keys.leases) == 0


@pytest.mark.parametrize(
    ("group_rows", "inserts"),
    [(GROUP_ROWS, 1), (12, 2), (0, 4)],  # 12: two batches of 6 links each; 0: none joined
)
def test_the_batches_of_one_read_are_stored_in_one_insert(
    index: ClickHouseSink, redis_client: redis.Redis, group_rows: int, inserts: int
) -> None:
    frontier = Frontier(redis_client, JOB, delay=0)
    batches = handed_over(redis_client, frontier, [2, 2, 2, 2])
    consumer = StreamConsumer(redis_client, frontier.keys.rows, index, frontier, None, group_rows)
    assert consumer.drain(block_ms=None) == 4
    assert_stored_once(index, batches)
    assert [parts(index.client, t) for t in ("links", "pages", "backlinks_state")] == [inserts] * 3
    assert (consumer.pages, consumer.links) == (12, 24)
    assert_off_the_stream(redis_client, consumer)


@pytest.mark.cluster_too
@pytest.mark.parametrize("after", ["a restart", "a failed drain"])
def test_a_joined_insert_read_again_is_stored_once(
    index: ClickHouseSink, redis_client: redis.Redis, after: str
) -> None:
    """The coordinator inserted a group, then died (or its drain failed) before taking it off
    the stream: the group is formed again, with its token, and its insert adds nothing."""
    frontier = Frontier(redis_client, JOB, delay=0)
    batches = handed_over(redis_client, frontier, [1, 2, 3])
    calls = []

    def store_then_die(batch: Batch) -> None:
        calls.append(batch.token)
        index.store(batch)
        if len(calls) == 1:
            raise Died
        frontier.ack(batch.fingerprints, set(), tallies(batch))

    first = StreamConsumer(redis_client, frontier.keys.rows, index, frontier, store_then_die)
    with pytest.raises(Died):
        first.drain(block_ms=None)
    assert counts(index.client) == (9, 18, 18)  # the joined insert landed
    assert redis_client.xpending(first.key, GROUP)["pending"] == 3
    assert redis_client.exists(first.grouped) == 1

    again = first
    if after == "a restart":
        again = StreamConsumer(redis_client, frontier.keys.rows, index, frontier, store_then_die)
    assert again.drain(block_ms=None) == 3  # the same group again, with the same token
    assert again.drain(block_ms=None) == 0
    assert calls == [group_token([batch.token for batch in batches])] * 2
    assert_stored_once(index, batches)
    assert parts(index.client, "links") == 1  # the second insert was dropped as a repeat
    assert_off_the_stream(redis_client, again)


@pytest.mark.cluster_too
def test_a_batch_in_the_stream_twice_is_stored_once(
    index: ClickHouseSink, redis_client: redis.Redis
) -> None:
    frontier = Frontier(redis_client, JOB, delay=0)
    first, second = handed_over(redis_client, frontier, [2, 3])
    worker = StreamSink(redis_client, frontier.keys)
    worker.store(first)  # an XADD retried after its reply was lost: twice in one read
    consumer = StreamConsumer(redis_client, frontier.keys.rows, index, frontier)
    assert consumer.drain(block_ms=None) == 3
    assert_stored_once(index, [first, second])

    # ... and once more, in a later read, with a new batch whose pages are leased again
    third = leased(frontier, make_batch(3, 1, first=30))
    worker.store(second)
    worker.store(third)
    assert consumer.drain(block_ms=None) == 2
    assert_stored_once(index, [first, second, third])
    assert_off_the_stream(redis_client, consumer)


def test_a_joined_batch_is_spooled_and_replayed_whole(
    index: ClickHouseSink, tmp_path: Path
) -> None:
    batches = [make_batch(2, 3, first=2 * at) for at in range(3)]
    arrived = [decode(encode(batch), "unused") for batch in batches]  # as handed over
    token = group_token([batch.token for batch in batches])
    assert token == group_token([batch.token for batch in reversed(batches)])
    spool = Spool.open(tmp_path / "spool", JOB, max_bytes=1 << 20)
    spool.append(joined(arrived, token))
    back = spool.head()
    spool.close()
    assert back is not None and back.token == token
    assert list(back.pages) == [page for batch in batches for page in batch.pages]
    assert list(back.links) == [link for batch in batches for link in batch.links]
    assert back.fingerprints == [fp for batch in batches for fp in batch.fingerprints]
    index.store(back)
    index.store(spool.head() or Batch())  # replayed again: a repeat
    assert_stored_once(index, batches)
