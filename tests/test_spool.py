"""The spool and the recorder over it: batches kept on disk in order within a bound, replayed in
order with their tokens once the index is back, taken over after a crash; and acknowledgements
that count each lease once. Real chDB (an outage is a detached table) and a real Valkey."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar, get_type_hints

import pytest
import redis

from crawler.frontier import Entry, Frontier, fingerprint
from crawler.handoff import StreamSink
from crawler.recorder import Recorder
from crawler.rows import PAGE_COLUMNS, Batch, LinkRow, PageRow
from crawler.sinks import ClickHouseSink
from crawler.spool import Spool
from crawler.stream_consumer import StreamConsumer
from tests.test_sinks import JOB, WHEN, as_stored, counts, crawler_for, stored

T = TypeVar("T")


def row(kind: type[T], **known: Any) -> T:
    """A row with the given fields, and a telling value of its type in every other one."""
    types = get_type_hints(kind)
    values = {n: known.get(n, 7 if types[n] is int else f"{n}!") for n in kind._fields}  # type: ignore[attr-defined]
    return kind(**values)


def make_batch(pages: int, links_per_page: int, *, first: int = 0) -> Batch:
    """Pages on distinct hosts at depths 0-2, every fifth one failed, each with its links."""
    batch = Batch()
    for p in range(first, first + pages):
        url = f"http://www.site{p}.example/page"
        error = "timeout" if p % 5 == 4 else ""
        when = WHEN + p
        page = row(PageRow, job=JOB, url=url, status=0 if error else 200, depth=p % 3,
                   fetched_at=when, error=error, links=links_per_page)  # fmt: skip
        batch.pages.append(page)
        for k in range(links_per_page):
            dst = f"http://t{k}.example/{p}"
            batch.links.append(row(LinkRow, job=JOB, src_url=url, dst_url=dst, tag="a",
                                   type="text", nofollow=k % 2, fetched_at=when))  # fmt: skip
        batch.fingerprints.append(fingerprint(url))
    return batch


def test_batches_come_back_in_order_with_their_tokens(tmp_path: Path) -> None:
    spool = Spool.open(tmp_path, JOB, max_bytes=1 << 20)
    batches = [make_batch(2, 3, first=i * 2) for i in range(3)]
    for batch in batches:
        spool.append(batch)
    assert len(spool) == 3
    assert spool.head() == batches[0]
    spool.pop()
    assert [b for _, b in spool.batches()] == batches[1:]
    head = spool.head()
    assert head is not None and head.token == batches[1].token


def test_the_bound_counts_the_bytes_on_disk(tmp_path: Path) -> None:
    one = make_batch(2, 3)
    probe = Spool.open(tmp_path / "probe", JOB, max_bytes=1 << 20)
    probe.append(one)
    size = probe.bytes
    spool = Spool.open(tmp_path, JOB, max_bytes=2 * size)
    spool.append(one)
    assert spool.bytes == size and not spool.full
    spool.append(Batch(one.pages, one.links, one.fingerprints, one.token))
    files = list(spool.directory.glob("*.batch"))
    assert spool.full and spool.bytes == sum(f.stat().st_size for f in files) == 2 * size
    spool.pop()
    assert not spool.full and spool.bytes == size


def test_a_spool_left_by_a_dead_process_is_taken_over_in_order(tmp_path: Path) -> None:
    first = Spool.open(tmp_path, JOB, max_bytes=1 << 20)
    batches = [make_batch(1, 2, first=i) for i in range(4)]
    for batch in batches:
        first.append(batch)
    (first.directory / "000000000004.tmp").write_bytes(b"[[")  # a write cut short by the crash
    # While its owner lives, another process of the job gets a slot of its own.
    other = Spool.open(tmp_path, JOB, max_bytes=1 << 20)
    assert other.directory != first.directory and len(other) == 0
    first.close()  # the owner died: its lock went with it
    taken = Spool.open(tmp_path, JOB, max_bytes=1 << 20)
    assert taken.directory == first.directory
    assert [b for _, b in taken.batches()] == batches
    assert not list(taken.directory.glob("*.tmp"))
    taken.append(make_batch(1, 2, first=9))  # new batches go behind the left-over ones
    assert [b.token for _, b in taken.batches()][:4] == [b.token for b in batches]
    assert int(sorted(p.name for p in taken.directory.glob("*.batch"))[-1][:12]) == 4


def test_an_acknowledgement_counts_only_the_leases_it_ends(redis_client: redis.Redis) -> None:
    f = Frontier(redis_client, "acks", delay=0)
    urls = [f"http://h{i}.example/" for i in range(3)]
    f.add((u, 0) for u in urls)
    fps = [e.fp for e in f.pop(3).entries]
    failed = {fingerprint(urls[0])}
    assert f.ack(fps, failed) == 3
    assert f.ack(fps, failed) == 0  # the same batch acknowledged again: a retry, a replay
    stats = f.stats()
    assert (stats["recorded"], stats["failed"], stats["leased"]) == (3, 1, 0)
    f.add([("http://h9.example/", 0)])
    (entry,) = f.pop(1).entries
    assert f.return_leases([entry]) == 1
    assert f.ack([entry.fp], {entry.fp}) == 0  # returned before its rows were stored
    assert (f.stats()["recorded"], f.stats()["failed"]) == (3, 1)


def test_renewed_leases_outlive_the_lease_time(redis_client: redis.Redis) -> None:
    f = Frontier(redis_client, "renew", delay=0, lease_seconds=0.3)
    f.add([("http://a.example/", 0), ("http://b.example/", 0), ("http://c.example/", 0)])
    held, dropped, recorded = f.pop(3).entries
    f.ack([recorded.fp])
    redis_client.zadd(f.keys.lease_times, {held.fp: 0, dropped.fp: 0})  # leased long ago
    now = time.time()
    assert f.renew([held.fp, recorded.fp], now) == [recorded.fp]  # no longer leased: forget it
    assert f.reap() == 1  # only the lease nobody renewed
    assert f.stats()["leased"] == 1 and f.queued() == 1
    assert redis_client.zscore(f.keys.lease_times, held.fp) == now


def test_a_lease_handed_out_again_is_not_renewed(redis_client: redis.Redis) -> None:
    f = Frontier(redis_client, "renew-again", delay=0)
    f.add([("http://a.example/", 0), ("http://b.example/", 0)])
    mine, taken = f.pop(2).entries
    renewed_at = time.time()
    assert f.renew([mine.fp, taken.fp], renewed_at) == []
    # `taken` went back to the frontier (this worker's Redis was out of reach) and was leased
    # to another worker, after this one's last renewal.
    assert f.return_leases([taken]) == 1
    assert [e.fp for e in f.pop(1).entries] == [taken.fp]
    other_lease = redis_client.zscore(f.keys.lease_times, taken.fp)
    later = time.time()
    gone = f.renew([mine.fp, taken.fp], later, {mine.fp, taken.fp}, renewed_at)
    assert gone == [taken.fp]
    assert redis_client.zscore(f.keys.lease_times, taken.fp) == other_lease  # left alone
    assert redis_client.zscore(f.keys.lease_times, mine.fp) == later


@pytest.fixture
def index(tmp_path: Path) -> Iterator[ClickHouseSink]:
    sink = ClickHouseSink.from_crawler(crawler_for(tmp_path, ""), f"chdb://{tmp_path}/index")
    yield sink
    sink.close()


def test_an_outage_spools_and_the_replay_stores_each_batch_once(
    index: ClickHouseSink, redis_client: redis.Redis, tmp_path: Path
) -> None:
    frontier = Frontier(redis_client, JOB, delay=0)
    batches = [leased(frontier, make_batch(3, 4, first=i * 3)) for i in range(4)]
    recorder = Recorder(index, Spool.open(tmp_path, JOB, 1 << 20), frontier, "the index")
    recorder.record(batches[0])
    index.client.command("DETACH TABLE pages")  # the outage: inserts into pages fail
    for batch in batches[1:]:
        recorder.record(batch)
    assert len(recorder.spool) == 3
    recorder.replay()  # still down
    assert len(recorder.spool) == 3
    assert counts_of(index, "links") == 24  # batch 1's links landed before its pages failed
    assert redis_client.hlen(frontier.keys.leases) == 9  # nothing acknowledged early
    spooled = sorted(fp for b in batches[1:] for fp in b.fingerprints)
    assert sorted(recorder.held.snapshot()) == spooled
    index.client.command("ATTACH TABLE pages")
    recorder._next_try = 0.0  # the back-off is the pipeline's clock, not this test's
    recorder.replay()
    assert len(recorder.spool) == 0 and not recorder.held.snapshot()
    assert counts(index.client) == (12, 48, 48)  # batch 1's links once, by its token
    assert frontier.stats()["recorded"] == 12 and redis_client.hlen(frontier.keys.leases) == 0
    assert stored(index.client, "pages", PAGE_COLUMNS) == as_stored(
        [page for batch in batches for page in batch.pages]
    )


def leased(frontier: Frontier, batch: Batch) -> Batch:
    """The batch's pages queued at their depths and leased, as a worker would have them."""
    frontier.add((page.url, page.depth) for page in batch.pages)
    popped = frontier.pop(len(batch.pages)).entries
    assert sorted(e.fp for e in popped) == sorted(batch.fingerprints)
    return batch


def counts_of(index: ClickHouseSink, table: str) -> int:
    return int(index.client.query(f"SELECT count() FROM {table}").result_rows[0][0])


def test_a_restarted_process_stores_only_the_pages_nobody_else_has(
    index: ClickHouseSink, redis_client: redis.Redis, tmp_path: Path
) -> None:
    frontier = Frontier(redis_client, JOB, delay=0)
    stored, waiting, shared = (leased(frontier, make_batch(2, 3, first=i * 2)) for i in range(3))
    dead = Recorder(index, Spool.open(tmp_path, JOB, 1 << 20), frontier, "the index")
    index.client.command("DETACH TABLE pages")
    for batch in (stored, waiting, shared):
        dead.record(batch)
    dead.renew()  # its last renewal of the spooled pages' leases
    index.client.command("ATTACH TABLE pages")
    dead.sink.store(stored)  # its replay stored the first batch and acknowledged it...
    frontier.ack(stored.fingerprints)
    dead.spool.close()  # ...then the process died before dropping it from the spool
    # Meanwhile one of its pages went back to the frontier and another worker took it...
    (lost,) = (e for e in frontier_entries(frontier) if e.fp == shared.fingerprints[0])
    assert frontier.return_leases([lost]) == 1
    assert [e.fp for e in frontier.pop(1).entries] == [lost.fp]
    # ...and the next run returned the leases of another batch, but not yet the last one's.
    assert frontier.return_leases(e for e in frontier_entries(frontier)
                                  if e.fp in waiting.fingerprints) == 2  # fmt: skip

    spool = Spool.open(tmp_path, JOB, 1 << 20)
    assert spool.directory == dead.spool.directory and len(spool) == 3
    restarted = Recorder(index, spool, frontier, "the index")
    assert restarted.take_back() == 2
    ours = waiting.fingerprints + shared.fingerprints[1:]
    assert sorted(restarted.held.snapshot()) == sorted(ours)
    restarted.replay()
    assert len(spool) == 0
    rows = index.client.query("SELECT url, count() FROM pages GROUP BY url").result_rows
    expected = [p.url for p in stored.pages + waiting.pages + shared.pages[1:]]
    assert sorted(tuple(r) for r in rows) == sorted((url, 1) for url in expected)
    assert counts_of(index, "links") == 3 * len(expected)
    assert frontier.queued() == 0
    assert set(redis_client.hkeys(frontier.keys.leases)) == {lost.fp.encode()}
    assert frontier.stats()["recorded"] == 5


def frontier_entries(frontier: Frontier) -> list[Entry]:
    """Every leased entry."""
    return [Entry.loads(raw) for raw in frontier.client.hvals(frontier.keys.leases)]


def test_spooled_pages_whose_leases_went_back_are_taken_back_or_left_out(
    index: ClickHouseSink, redis_client: redis.Redis, tmp_path: Path
) -> None:
    frontier = Frontier(redis_client, JOB, delay=0)
    batch = leased(frontier, make_batch(3, 2))
    recorder = Recorder(index, Spool.open(tmp_path, JOB, 1 << 20), frontier, "the index")
    index.client.command("DETACH TABLE links")  # links go in first: nothing lands
    recorder.record(batch)
    recorder.renew()
    # Redis was out of this process's reach for longer than a lease: a worker returned two of
    # its leases, then handed one of them to another worker; the other is still queued.
    queued, taken = (
        next(e for e in frontier_entries(frontier) if e.fp == fp) for fp in batch.fingerprints[:2]
    )
    assert frontier.return_leases([taken]) == 1
    assert [e.fp for e in frontier.pop(1).entries] == [taken.fp]
    assert frontier.return_leases([queued]) == 1
    recorder.renew()
    index.client.command("ATTACH TABLE links")
    recorder._next_try = 0.0
    recorder.replay()
    kept = [page.url for page in batch.pages if page.url != taken.url]
    rows = index.client.query("SELECT url FROM pages").result_rows
    assert sorted(url for (url,) in rows) == sorted(kept)
    links = index.client.query("SELECT src_url, count() FROM links GROUP BY src_url").result_rows
    assert sorted(tuple(r) for r in links) == sorted((url, 2) for url in kept)
    assert frontier.queued() == 0 and frontier.stats()["recorded"] == 2
    assert set(redis_client.hkeys(frontier.keys.leases)) == {taken.fp.encode()}


def test_a_handed_over_batch_is_kept_alive_by_its_worker_until_the_owner_takes_it(
    index: ClickHouseSink, redis_client: redis.Redis, tmp_path: Path
) -> None:
    frontier = Frontier(redis_client, JOB, delay=0)
    batch = leased(frontier, make_batch(2, 2))
    handoff = StreamSink(redis_client, frontier.keys)
    worker = Recorder(handoff, Spool.open(tmp_path, JOB, 1 << 20), frontier, "the coordinator")
    worker.record(batch)
    worker.renew()  # waiting in the stream: still the worker's to keep alive
    assert sorted(worker.held.snapshot()) == sorted(batch.fingerprints)

    owner = Recorder(index, Spool.open(tmp_path, JOB, 1 << 20), frontier, "the index")
    index.client.command("DETACH TABLE links")  # the owner's index is down: it spools the batch
    consumer = StreamConsumer(redis_client, frontier.keys.rows, index, frontier, owner.record)
    assert consumer.drain(block_ms=None) == 1
    assert len(owner.spool) == 1 and redis_client.xlen(frontier.keys.rows) == 0
    worker.renew()
    assert worker.held.snapshot() == []  # the owner's now
    owner.renew()
    owner.renew()  # its own renewals are not taken for someone else's lease
    assert sorted(owner.held.snapshot()) == sorted(batch.fingerprints)
    index.client.command("ATTACH TABLE links")
    owner._next_try = 0.0
    owner.replay()
    assert counts(index.client) == (2, 4, 4)
    assert frontier.stats()["recorded"] == 2 and redis_client.hlen(frontier.keys.leases) == 0
