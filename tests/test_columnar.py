"""The batches' encoding: Arrow columns typed as the tables are, every value kept, inserted as they
arrived; and batches an older version wrote as JSON, in the stream or the spool, still read and
stored exactly. Real Valkey and real chDB."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest
import redis

from crawler.columnar import LINK_SCHEMA, PAGE_SCHEMA, ArrowRows, decode, encode
from crawler.frontier import Frontier
from crawler.handoff import StreamSink
from crawler.rows import LINK_COLUMNS, PAGE_COLUMNS, Batch, LinkRow, PageRow
from crawler.sinks import ClickHouseSink
from crawler.spool import Spool
from crawler.storage import StorageTarget, connect
from crawler.stream_consumer import StreamConsumer
from tests.test_rows import table_columns
from tests.test_sinks import JOB, WHEN, as_stored, counts, leased, make_batch, stored

CLICKHOUSE_TYPES = {
    pa.uint8(): "UInt8",
    pa.uint16(): "UInt16",
    pa.uint32(): "UInt32",
    pa.uint64(): "UInt64",
    pa.string(): "String",
    pa.timestamp("ms", tz="UTC"): "DateTime64(3, 'UTC')",
}


@pytest.fixture
def index(tmp_path: Path) -> Iterator[ClickHouseSink]:
    sink = ClickHouseSink(connect(StorageTarget(f"chdb://{tmp_path}/index", tmp_path)))
    yield sink
    sink.close()


def old_json(batch: Batch) -> str:
    """A batch as versions before the Arrow encoding wrote it."""
    rows = [list(map(list, batch.pages)), list(map(list, batch.links))]
    return json.dumps([*rows, batch.fingerprints, batch.token], separators=(",", ":"))


@pytest.mark.parametrize(("table", "schema"), [("pages", PAGE_SCHEMA), ("links", LINK_SCHEMA)])
def test_the_arrow_columns_are_the_table_columns(
    index: ClickHouseSink, table: str, schema: pa.Schema
) -> None:
    declared = []
    for column in schema:
        kind = column.type
        if pa.types.is_dictionary(kind):
            kind = kind.value_type
        declared.append((column.name, CLICKHOUSE_TYPES[kind]))
    stored_as = [
        (name, kind[len("LowCardinality(") : -1] if kind.startswith("LowCardinality(") else kind)
        for name, kind in table_columns(index.client, table)
    ]
    assert declared == stored_as


def test_every_value_comes_back_and_is_stored_as_it_was(index: ClickHouseSink) -> None:
    batch = make_batch(3, 4)
    top = PageRow(
        JOB, "http://ü.example/ä?q=€", "ü.example", "ü.example", 65535, "", 2**32 - 1, 65535,
        WHEN + 999, "tïtle \x00 \n", "", 1, 1, "dns: no such name", "", 0, "/w/a.warc.gz",
        2**64 - 1,
    )  # fmt: skip
    edge = LinkRow(JOB, top.url, top.host, top.domain, "http://x.example/", "x.example",
                   "x.example", "", "redirect", "redirect", 1, 1, 1, 1, WHEN + 999)  # fmt: skip
    batch.add(top, [edge], "f" * 16)
    payload = encode(batch)
    assert payload[:1] == b"\x01"
    back = decode(payload, "unused")
    assert isinstance(back.links, ArrowRows) and len(back.links) == 13
    assert back == batch and back.token == batch.token
    assert back.pages[-1] == top and type(back.pages[-1]) is PageRow
    assert back.links[-1] == edge and type(back.links[-1]) is LinkRow
    index.store(decode(payload, "unused"))
    assert stored(index.client, "pages", PAGE_COLUMNS) == as_stored(batch.pages)
    assert stored(index.client, "links", LINK_COLUMNS) == as_stored(batch.links)


def test_a_value_out_of_its_column_range_fails_when_encoded() -> None:
    batch = make_batch(1, 0)
    batch.pages[0] = batch.pages[0]._replace(status=70_000)  # status is UInt16
    with pytest.raises(pa.ArrowInvalid, match="70000"):
        encode(batch)


def test_a_payload_that_is_no_batch_says_so() -> None:
    with pytest.raises(ValueError, match=r"not a batch of rows: it starts with b'\{\"a\":1}'"):
        decode(b'{"a":1}', "unused")


def test_handed_over_links_are_inserted_without_being_read(
    index: ClickHouseSink, redis_client: redis.Redis
) -> None:
    frontier = Frontier(redis_client, JOB, delay=0)
    batch = leased(frontier, make_batch(10, 20))
    StreamSink(redis_client, frontier.keys).store(batch)
    arrived: list[Batch] = []

    def record(handed: Batch) -> None:
        arrived.append(handed)
        index.store(handed)

    consumer = StreamConsumer(redis_client, frontier.keys.rows, index, frontier, record)
    assert consumer.drain(block_ms=None) == 1
    assert (consumer.pages, consumer.links) == (10, 200)
    assert counts(index.client) == (10, 200, 200)
    assert stored(index.client, "links", LINK_COLUMNS) == as_stored(batch.links)
    (handed,) = arrived
    assert isinstance(handed.links, ArrowRows) and handed.links._rows is None


def test_a_json_batch_left_in_the_stream_by_an_older_version_is_stored_once(
    index: ClickHouseSink, redis_client: redis.Redis
) -> None:
    frontier = Frontier(redis_client, JOB, delay=0)
    old, new = leased(frontier, make_batch(4, 3)), leased(frontier, make_batch(4, 3, first=4))
    redis_client.xadd(frontier.keys.rows, {"batch": old_json(old)})
    redis_client.xadd(frontier.keys.rows, {"batch": old_json(old)})  # a retried XADD
    StreamSink(redis_client, frontier.keys).store(new)
    consumer = StreamConsumer(redis_client, frontier.keys.rows, index, frontier)
    while consumer.drain(block_ms=None):
        pass
    assert counts(index.client) == (8, 24, 24)
    assert stored(index.client, "pages", PAGE_COLUMNS) == as_stored([*old.pages, *new.pages])
    assert stored(index.client, "links", LINK_COLUMNS) == as_stored([*old.links, *new.links])
    assert redis_client.hlen(frontier.keys.leases) == 0


def test_a_json_batch_left_in_the_spool_by_an_older_version_is_replayed(
    tmp_path: Path, index: ClickHouseSink
) -> None:
    old, new = make_batch(3, 2), make_batch(2, 2, first=3)
    spool = Spool.open(tmp_path / "spool", JOB, max_bytes=1 << 20)
    (spool.directory / "000000000000.batch").write_text(old_json(old), encoding="utf-8")
    spool.close()
    spool = Spool.open(tmp_path / "spool", JOB, max_bytes=1 << 20)
    spool.append(new)
    assert [b for _, b in spool.batches()] == [old, new]
    assert (spool.directory / "000000000001.batch").read_bytes()[:1] == b"\x01"
    while (batch := spool.head()) is not None:
        index.store(batch)
        spool.pop()
    assert counts(index.client) == (5, 10, 10)
    assert stored(index.client, "pages", PAGE_COLUMNS) == as_stored([*old.pages, *new.pages])
    assert stored(index.client, "links", LINK_COLUMNS) == as_stored([*old.links, *new.links])


def test_a_batch_written_before_a_later_column_gets_its_default(index: ClickHouseSink) -> None:
    batch = make_batch(3, 2)
    earlier = [page._replace(warc_file="", warc_offset=0) for page in batch.pages]
    before = pa.schema([f for f in PAGE_SCHEMA if not f.name.startswith("warc_")])
    pages = pa.table({f.name: [getattr(p, f.name) for p in earlier] for f in before})
    out = pa.BufferOutputStream()
    with pa.ipc.new_stream(out, before) as writer:
        writer.write_table(pages.cast(before))
    payload = encode(batch)
    head_end = 5 + int.from_bytes(payload[1:5], "little")
    pages_end = head_end + 4 + int.from_bytes(payload[head_end : head_end + 4], "little")
    stream = bytes(out.getvalue())
    old = b"".join((payload[:head_end], len(stream).to_bytes(4, "little"), stream,
                    payload[pages_end:]))  # fmt: skip
    back = decode(old, "unused")
    assert list(back.pages) == earlier
    index.store(back)
    assert stored(index.client, "pages", PAGE_COLUMNS) == as_stored(earlier)
    assert counts(index.client) == (3, 6, 6)
