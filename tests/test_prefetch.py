"""The frontier thread (LINKGRAPH_FRONTIER_THREAD), against a real Valkey server: what it leases
ahead, the order it sends in, and what it gives back. Its crawls are the end-to-end tests'."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, cast

import pytest
import redis

from crawler.frontier import Entry, Frontier, fingerprint, scripts
from crawler.frontier.prefetch import FrontierThread, unreleased_pages

pytestmark = pytest.mark.cluster_too


@pytest.fixture(params=[1, 4], ids=["P=1", "P=4"])
def partitions(request: pytest.FixtureRequest) -> int:
    return int(request.param)


def wait_for(condition: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def now(fn: Callable[..., Any], *args: Any) -> None:  # no reactor here: call at once
    fn(*args)


def test_leases_one_turn_per_host_ahead_sends_in_order_and_gives_back_the_rest(
    redis_client: redis.Redis, partitions: int
) -> None:
    f = Frontier(redis_client, "pf", delay=0, partitions=partitions)
    assert f.add([(f"http://h{i}.test/{p}", 0) for i in range(3) for p in "ab"]) == 6
    errors: list[BaseException] = []
    ready: list[bool] = []
    thread = FrontierThread(f, 8, to_reactor=now, on_ready=lambda: ready.append(True),
                            on_error=errors.append)  # fmt: skip
    thread.start("w1")
    # nothing is leased before the first request is asked for
    assert thread.take() is None and f.stats().get("leased", 0) == 0
    thread.set_popping(True)
    wait_for(lambda: f.stats()["leased"] == 3 and thread.busy())
    taken = [thread.take() for _ in range(3)]
    assert sorted(e.url for e in taken if e) == [f"http://h{i}.test/a" for i in range(3)]
    assert thread.take() is None and ready  # one turn per host: the b pages wait
    # h0's release and a link of its page, queued: released first, then its next page popped
    failures: list[int] = []
    added: list[bool] = []
    thread.release("h0.test", done=failures.append)
    thread.add([("http://h0.test/c", 1)], done=lambda: added.append(True), failed=errors.append)
    thread.mark_done([fingerprint("http://h1.test/a")])
    wait_for(lambda: f.stats()["leased"] == 4)
    assert failures == [0] and added == [True]
    # stopping sends what is queued, and hands back the unstarted entry to be returned
    left = thread.stop()
    assert left == [Entry.new("http://h0.test/b", 0)]
    owners = f.keys_for("h1.test").lease_owners
    assert redis_client.hget(owners, fingerprint("http://h1.test/a")) == b"w1 done"
    assert f.return_leases(left) == 1
    assert f.stats()["leased"] == 3 and f.queued() == 4  # h1/b, h2/b, h0/b, h0/c
    assert errors == []


def test_a_frontier_error_reaches_the_reactor_and_fails_what_waits(
    redis_client: redis.Redis, partitions: int
) -> None:
    f = Frontier(redis_client, "pf-err", delay=0, partitions=partitions)
    errors: list[BaseException] = []
    failed: list[BaseException] = []
    thread = FrontierThread(f, 4, to_reactor=now, on_ready=lambda: None,
                            on_error=errors.append)  # fmt: skip
    # a script the server refuses, as every one is when an operator takes scripting away, in
    # one round trip with a page's release (both queued before the thread starts)
    broken = scripts.Script(("stats",), "return redis.error_reply('refused')")
    thread.send([(f.partitions.all[0], broken, [])], failed=failed.append)
    thread.release("a.test", page="fp-sent")
    assert unreleased_pages(f) == set()  # a thread not made by frontier_thread_for: none
    thread.start("w1")
    wait_for(lambda: bool(errors))
    assert len(errors) == 1 and isinstance(errors[0], redis.ResponseError)
    assert failed == errors
    # later calls fail at once, and nothing more is handed out
    thread.add([("http://a.test/", 0)], done=lambda: None, failed=failed.append)
    assert failed == [errors[0], errors[0]] and thread.take() is None
    # the pages whose host's turn was not ended: the one in the failed round trip, and one
    # released after it (never sent); the recorder leaves both out, leased
    thread.release("b.test", page="fp-late")
    assert thread.unreleased() == {"fp-sent", "fp-late"}
    assert thread.stop() == [] and f.queued() == 0


def lost_leases(client: redis.Redis, f: Frontier) -> int:
    return sum(int(client.hlen(p.keys.lost_leases)) for p in f.partitions.all)


def lease_times(client: redis.Redis, f: Frontier) -> dict[bytes, float]:
    """When each lease of every partition started."""
    times: dict[bytes, float] = {}
    for partition in f.partitions.all:
        scored = client.zrange(partition.keys.lease_times, 0, -1, withscores=True)
        times.update(cast("list[tuple[bytes, float]]", scored))
    return times


def test_entries_not_taken_go_back_before_their_lease_could_run_out(
    redis_client: redis.Redis, partitions: int
) -> None:
    """The engine takes nothing (its downloads are slow, or it paused): what the thread leased
    ahead goes back to its queue after a quarter of a lease, never reaped as lost; while the
    thread pops, it leases it again."""
    f = Frontier(redis_client, "pf-hold", delay=0, lease_seconds=2.0, partitions=partitions)
    urls = [f"http://h{i}.test/" for i in range(3)]
    assert f.add([(url, 0) for url in urls]) == 3
    thread = FrontierThread(f, 8, to_reactor=now, on_ready=lambda: None,
                            on_error=lambda exc: None)  # fmt: skip
    assert thread.max_hold == 0.5
    thread.start("w1")
    thread.set_popping(True)
    wait_for(lambda: f.stats().get("leased", 0) == 3)
    first = lease_times(redis_client, f)
    assert len(first) == 3
    time.sleep(2 * f.lease_seconds)  # two leases: each was returned and leased again since
    again = lease_times(redis_client, f)
    assert set(again) == set(first)
    assert all(again[fp] > first[fp] + f.lease_seconds for fp in first)
    assert f.reap() == 0 and lost_leases(redis_client, f) == 0
    # not popping (the job or the engine paused): they go back and stay queued
    thread.set_popping(False)
    wait_for(lambda: f.stats().get("leased", 0) == 0)
    assert f.queued() == 3 and f.stats()["popped"] == 0 and lost_leases(redis_client, f) == 0
    assert thread.take() is None and not thread.busy()
    assert thread.stop() == []
    # they are due at once, first in their queues: popped as if never leased
    assert sorted(e.url for e in f.pop(3).entries) == urls


def test_give_back_returns_the_whole_buffer_at_once(
    redis_client: redis.Redis, partitions: int
) -> None:
    """A full spool pauses the engine: the scheduler stops the popping and gives the buffer
    back, long before a quarter of a lease."""
    f = Frontier(redis_client, "pf-give", delay=0, lease_seconds=300, partitions=partitions)
    assert f.add([(f"http://h{i}.test/{p}", 0) for i in range(4) for p in "ab"]) == 8
    thread = FrontierThread(f, 8, to_reactor=now, on_ready=lambda: None,
                            on_error=lambda exc: None)  # fmt: skip
    thread.start("w1")
    thread.set_popping(True)
    wait_for(lambda: f.stats().get("leased", 0) == 4)
    taken = thread.take()
    assert taken is not None and taken.url.endswith("/a")
    thread.set_popping(False)
    thread.give_back()
    wait_for(lambda: f.stats().get("leased", 0) == 1)  # only the one taken, in flight
    assert f.queued() == 7 and lost_leases(redis_client, f) == 0
    assert thread.take() is None and thread.stop() == []
    # the three given back come first again; the host in flight is not let out
    popped = f.pop(8).entries
    assert sorted(e.url for e in popped) == sorted(
        f"http://h{i}.test/a" for i in range(4) if f"http://h{i}.test/a" != taken.url
    )
