"""The Redis frontier, against a real Valkey server: dedupe, per-host turns, delays, leases."""

from __future__ import annotations

import re
import time

import pytest
import redis

from crawler.frontier import Entry, Frontier, fingerprint, scripts
from crawler.frontier.keys import JobKeys

pytestmark = pytest.mark.cluster_too  # each test on a standalone Valkey, then on the cluster


@pytest.fixture(params=[1, 4], ids=["P=1", "P=4"])
def partitions(request: pytest.FixtureRequest) -> int:
    """Each frontier test runs on a job of one partition (the keys of old), and of four."""
    return int(request.param)


def urls(frontier: Frontier, count: int = 8) -> list[str]:
    return [e.url for e in frontier.pop(count).entries]


def test_add_dedupes_within_and_across_batches(redis_client: redis.Redis, partitions: int) -> None:
    f = Frontier(redis_client, "j1", delay=0, partitions=partitions)
    assert f.add([("http://a.com/", 0), ("http://a.com/", 0), ("http://a.com/x", 1)]) == 2
    assert f.add([("http://a.com/x", 1), ("http://b.com/", 1)]) == 1
    assert f.queued() == 3
    assert f.is_seen("http://a.com/x") and not f.is_seen("http://c.com/")
    assert f.stats()["seen"] == 3


def test_one_request_per_host_until_released(redis_client: redis.Redis, partitions: int) -> None:
    f = Frontier(redis_client, "j2", delay=0, partitions=partitions)
    f.add([("http://a.com/1", 0), ("http://a.com/2", 0), ("http://b.com/1", 0)])
    first = urls(f)
    assert sorted(first) == ["http://a.com/1", "http://b.com/1"]  # one per host, FIFO per host
    assert urls(f) == []  # both hosts have a request in flight
    f.release("a.com")
    assert urls(f) == ["http://a.com/2"]


def test_delay_runs_from_release_and_next_due_is_reported(
    redis_client: redis.Redis, partitions: int
) -> None:
    f = Frontier(redis_client, "j3", delay=0.4, partitions=partitions)
    f.add([("http://a.com/1", 0), ("http://a.com/2", 0)])
    assert urls(f) == ["http://a.com/1"]
    released = time.time()
    f.release("a.com")
    popped = f.pop()
    assert popped.entries == []
    assert popped.next_due is not None and abs(popped.next_due - (released + 0.4)) < 0.05
    time.sleep(0.45)
    assert urls(f) == ["http://a.com/2"]


def test_host_delay_overrides_default_and_survives_an_empty_queue(
    redis_client: redis.Redis, partitions: int
) -> None:
    f = Frontier(redis_client, "j4", delay=0, partitions=partitions)
    f.set_host_delay("slow.com", 0.5)
    f.add([("http://slow.com/1", 0)])
    assert urls(f) == ["http://slow.com/1"]
    f.release("slow.com")  # the queue is empty now: the host leaves `due` but keeps its time
    f.add([("http://slow.com/2", 1)])
    assert urls(f) == []
    time.sleep(0.55)
    assert urls(f) == ["http://slow.com/2"]


def test_max_pages_stops_popping_and_has_work_says_so(
    redis_client: redis.Redis, partitions: int
) -> None:
    f = Frontier(redis_client, "j5", delay=0, max_pages=2, partitions=partitions)
    f.add([(f"http://h{i}.com/", 0) for i in range(5)])
    assert len(urls(f)) == 2
    assert urls(f) == []
    assert f.queued() == 3 and not f.has_work()


def test_max_pages_per_host_caps_what_is_queued(redis_client: redis.Redis, partitions: int) -> None:
    f = Frontier(redis_client, "j6", delay=0, max_pages_per_host=2, partitions=partitions)
    assert f.add([(f"http://a.com/{i}", 0) for i in range(5)] + [("http://b.com/", 0)]) == 3
    # URLs over the cap are not marked seen: a later run with a higher cap can still queue them
    assert not f.is_seen("http://a.com/4")


def test_leases_end_on_ack_and_return_to_the_head_of_their_queue(
    redis_client: redis.Redis, partitions: int
) -> None:
    f = Frontier(redis_client, "j7", delay=0, partitions=partitions)
    f.add([("http://a.com/1", 0), ("http://a.com/2", 0), ("http://b.com/1", 0)])
    popped = f.pop(8).entries
    assert f.stats()["leased"] == 2
    f.ack([fingerprint("http://b.com/1")])
    assert f.stats()["leased"] == 1 and f.stats()["recorded"] == 1
    # the worker holding a.com/1 died: its lease goes back in front of a.com/2
    assert f.return_leases() == 1
    assert f.stats()["leased"] == 0
    assert urls(f) == ["http://a.com/1"]
    assert {e.url for e in popped} == {"http://a.com/1", "http://b.com/1"}


def test_entries_are_json_and_keys_carry_the_job_hash_tag(
    redis_client: redis.Redis, partitions: int
) -> None:
    f = Frontier(redis_client, "job-x", delay=0, partitions=partitions)
    f.add([("http://a.com/p?q=1", 3)])
    queued = redis_client.zrange(f.keys_for("a.com").queue("a.com"), 0, 0)
    assert len(queued) == 1
    raw = queued[0]
    entry = Entry.loads(raw)
    assert entry == Entry(fingerprint("http://a.com/p?q=1"), 3, "http://a.com/p?q=1")
    assert raw.startswith(b'["') and len(bytes.fromhex(entry.fp)) == 8
    names = [k.decode() for k in redis_client.scan_iter("lg:*")]
    tag = "job-x" if partitions == 1 else f"job-x:{f.keys_for('a.com').partition}"
    assert names and all(n.startswith(f"lg:{{{tag}}}:") or n == "lg:jobs" for n in names)


def test_reaper_returns_only_leases_that_ran_out(
    redis_client: redis.Redis, partitions: int
) -> None:
    f = Frontier(redis_client, "j8", delay=0, lease_seconds=0.3, partitions=partitions)
    f.add([("http://a.com/1", 0), ("http://b.com/1", 0)])
    assert len(f.pop(1).entries) == 1
    time.sleep(0.35)
    assert len(f.pop(1).entries) == 1  # leased just now: not yet expired
    assert f.reap() == 1
    assert f.stats()["leased"] == 1 and f.queued() == 1
    assert f.has_work()


def test_heartbeats_count_other_live_workers(redis_client: redis.Redis, partitions: int) -> None:
    f = Frontier(redis_client, "j9", delay=0, partitions=partitions)
    assert f.heartbeat("w1") == 0
    assert f.heartbeat("w2") == 1
    f.leave("w1")
    assert f.heartbeat("w2") == 0


def test_a_host_is_crawled_breadth_first_whatever_the_discovery_order(
    redis_client: redis.Redis, partitions: int
) -> None:
    f = Frontier(redis_client, "j10", delay=0, partitions=partitions)
    f.add([("http://a.com/deep", 3), ("http://a.com/d2-first", 2), ("http://a.com/d2-second", 2)])
    f.add([("http://a.com/home", 0)])
    order = []
    for _ in range(4):
        order += urls(f)
        f.release("a.com")
    assert order == ["http://a.com/home", "http://a.com/d2-first", "http://a.com/d2-second",
                     "http://a.com/deep"]  # fmt: skip


def test_priority_hook_and_returned_leases_go_first(
    redis_client: redis.Redis, partitions: int
) -> None:
    from crawler.frontier.priority import shortest_path_first

    f = Frontier(redis_client, "j11", delay=0, priority=shortest_path_first, partitions=partitions)
    f.add([("http://a.com/x/y/z", 1), ("http://a.com/x", 1), ("http://a.com/x/y", 1)])
    first = f.pop().entries
    assert [e.url for e in first] == ["http://a.com/x"]
    f.return_leases(first)  # back in front of everything
    assert urls(f) == ["http://a.com/x"]
    f.release("a.com")
    assert urls(f) == ["http://a.com/x/y"]


def test_the_scripts_write_no_key_name_themselves() -> None:
    keys = JobKeys("j")
    attributes = {name for name, value in vars(JobKeys).items() if isinstance(value, property)}
    key_names = {getattr(keys, name).removeprefix(keys.base) for name in attributes} - {""}
    assert {"due", "seen", "leases", "q:"} <= key_names
    declared = [v for v in vars(scripts).values() if isinstance(v, scripts.Script)]
    assert len(declared) == 14
    for script in declared:
        assert set(script.keys) <= attributes
        assert not set(re.findall(r"'([^']*)'", script.lua)) & key_names
        # Every key a command touches is a declared one, or a host queue from the queue prefix,
        # or a piece of the Bloom filter named after its declared `bloom` key.
        for key in re.findall(r"redis\.call\('\w+', ([^,)]+)", script.lua):
            piece = re.fullmatch(r"bloom \.\. ':' \.\. piece", key) and "bloom" in script.keys
            assert key in script.keys or re.fullmatch(r"queues \.\. host|queue", key) or piece, key


def test_every_key_the_frontier_writes_is_named_in_keys_py(
    redis_client: redis.Redis, partitions: int
) -> None:
    f = Frontier(redis_client, "named", delay=0, partitions=partitions)
    f.set_host_delay("a.com", 0)
    f.add([("http://a.com/1", 0), ("http://a.com/2", 0), ("http://b.com/1", 0)])
    a1, _ = sorted(f.pop(8).entries, key=lambda e: e.url)
    assert f.retry(a1, 0) == 1
    assert f.release("b.com", failed=True, park_after=1) == 1  # b.com's queue is empty now
    a, b = f.keys_for("a.com"), f.keys_for("b.com")
    expected = {a.delay, a.seen, a.due, a.host_count, a.stats, a.queue("a.com"), a.retries,
                b.seen, b.next_at, b.host_count, b.stats, b.leases, b.lease_times, b.failures,
                b.parked}  # fmt: skip
    assert (a == b) == (partitions == 1)  # four partitions: a.com and b.com live apart
    assert {n.decode() for n in redis_client.scan_iter("lg:{named*")} == expected
