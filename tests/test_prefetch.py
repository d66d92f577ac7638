"""The frontier thread (LINKGRAPH_FRONTIER_THREAD), against a real Valkey server: what it leases
ahead, the order it sends in, and what it gives back. Its crawls are the end-to-end tests'."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
import redis

from crawler.frontier import Entry, Frontier, fingerprint, scripts
from crawler.frontier.prefetch import FrontierThread

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
    thread.start("w1")
    # a script the server refuses, as every one is when an operator takes scripting away
    broken = scripts.Script(("stats",), "return redis.error_reply('refused')")
    thread.send([(f.partitions.all[0], broken, [])], failed=failed.append)
    wait_for(lambda: bool(errors))
    assert len(errors) == 1 and isinstance(errors[0], redis.ResponseError)
    assert failed == errors
    # later calls fail at once, and nothing more is handed out
    thread.add([("http://a.test/", 0)], done=lambda: None, failed=failed.append)
    assert failed == [errors[0], errors[0]] and thread.take() is None
    assert thread.stop() == [] and f.queued() == 0
