"""A job frontier partitioned by host, against a real Valkey: each host's keys in one partition,
a page's links one script call per partition, pops in turn across partitions, the page budget
exact across them, and a real crawl of the test web on four partitions exact against its truth."""

from __future__ import annotations

import time
from itertools import pairwise
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import redis

from crawler import jobs
from crawler.demo.server import LocalWebServer
from crawler.errors import UsageError
from crawler.frontier import Frontier, fingerprint
from crawler.frontier.keys import JobKeys, partition_of
from crawler.jobspec import JobSpec
from crawler.processes.valkey import EmbeddedValkey
from crawler.run import resolve_spec
from crawler.urls import host_of
from tests.conftest import SHORT_BACKOFF, page_fetches, query, run_linkgraph
from tests.test_crawl_e2e import CLOCK_SLACK, by_host
from tests.testweb import TestWeb

P = 4


def hosts_per_partition(count: int, partitions: int = P) -> list[list[str]]:
    """`count` host names of each partition, h0.com h1.com ... as `partition_of` spreads them."""
    found: list[list[str]] = [[] for _ in range(partitions)]
    i = 0
    while min(len(hosts) for hosts in found) < count:
        host = f"h{i}.com"
        if len(found[partition_of(host, partitions)]) < count:
            found[partition_of(host, partitions)].append(host)
        i += 1
    return found


def script_calls(client: redis.Redis) -> int:
    stats = client.info("commandstats")
    return sum(int(stats.get(f"cmdstat_{c}", {}).get("calls", 0)) for c in ("evalsha", "eval"))


def test_each_hosts_keys_live_in_its_partition_and_one_page_is_one_call_per_partition(
    redis_client: redis.Redis,
) -> None:
    f = Frontier(redis_client, "spread", delay=0, partitions=P)
    hosts = [h for group in hosts_per_partition(2) for h in group]
    links = [(f"http://{h}/{n}", 1) for h in hosts for n in range(3)]
    before = script_calls(redis_client)
    assert f.add(links) == len(links)
    assert script_calls(redis_client) - before == P  # one ADD per partition, pipelined
    assert f.add(links[:5]) == 0 and f.stats()["seen"] == len(links)  # dedupe stays exact
    for host in hosts:
        keys = f.keys_for(host)
        assert keys == JobKeys("spread", partition_of(host, P))
        assert redis_client.zcard(keys.queue(host)) == 3
        assert redis_client.zscore(keys.due, host) is not None
        assert all(f.is_seen(f"http://{host}/{n}") for n in range(3))
    names = {k.decode() for k in redis_client.scan_iter("lg:*")}
    assert {n.split("}")[0] for n in names} == {"lg:jobs"} | {
        f"lg:{{spread:{p}" for p in range(P)
    }  # nothing of the frontier on the job's own tag


@pytest.mark.cluster_too  # four partitions: four slots, on several nodes
def test_pops_go_round_the_partitions_and_hold_politeness(redis_client: redis.Redis) -> None:
    f = Frontier(redis_client, "turns", delay=0.3, partitions=P)
    groups = hosts_per_partition(2)
    f.add([(f"http://{h}/{n}", 0) for group in groups for h in group for n in range(2)])
    popped = [f.pop(1).entries for _ in range(P)]
    assert all(len(entries) == 1 for entries in popped)
    # four pops in a row: one from each partition, whichever this worker started at
    assert {partition_of(host_of(e[0].url), P) for e in popped} == set(range(P))
    rest = f.pop(8).entries  # the other host of each partition: each host once in flight
    hosts = [host_of(e.url) for entries in popped for e in entries] + [host_of(e.url) for e in rest]
    assert sorted(hosts) == sorted(h for group in groups for h in group)
    assert f.pop(8).entries == []
    released = time.time()
    f.release(hosts[0])
    nothing = f.pop(8)
    assert nothing.entries == [] and nothing.next_due is not None
    assert abs(nothing.next_due - (released + 0.3)) < 0.05  # the earliest of all partitions
    time.sleep(0.35)
    assert [host_of(e.url) for e in f.pop(8).entries] == [hosts[0]]


@pytest.mark.cluster_too
def test_max_pages_is_exact_across_partitions_and_unused_grants_go_back(
    redis_client: redis.Redis,
) -> None:
    groups = hosts_per_partition(1)
    one, other = groups[0][0], groups[1][0]
    workers = [Frontier(redis_client, "budget", delay=0, max_pages=5, partitions=P) for _ in "ab"]
    f = workers[0]
    f.add([(f"http://{one}/", 0)])
    assert [e.url for e in f.pop(4).entries] == [f"http://{one}/"]
    # that partition was granted more than it had to pop: it gave the rest back
    assert int(redis_client.get(f.keys.budget) or 0) == 1
    f.add([(f"http://{other}/{n}", 0) for n in range(20)])
    popped = []
    for turn in range(40):  # two workers pop in turn, as a crawl does, releasing each host
        worker = workers[turn % 2]
        entries = worker.pop(1).entries
        for entry in entries:
            popped.append(entry.url)
            worker.release(host_of(entry.url))
            worker.ack([entry.fp])
    assert len(popped) == 4 and len(set(popped)) == 4
    assert f.stats()["popped"] == 5 and not f.has_work()
    # a retried page gives its page back: fetched again, it counts once
    g = Frontier(redis_client, "retry", delay=0, max_pages=2, partitions=P)
    g.add([(f"http://{one}/", 0), (f"http://{other}/", 0)])
    first = g.pop(1).entries[0]
    assert g.retry(first, 0) == 1
    again = [e.url for e in g.pop(8).entries]
    assert sorted(again) == sorted([f"http://{one}/", f"http://{other}/"])
    assert g.pop(8).entries == [] and g.stats()["popped"] == 2 and g.queued() == 0
    # a job crawled without a budget, resumed with one: what it fetched before counts
    unlimited = Frontier(redis_client, "later", delay=0, partitions=P)
    unlimited.add([(f"http://{group[0]}/{n}", 0) for group in groups for n in range(3)])
    assert len(unlimited.pop(P).entries) == P  # one of each partition's host
    limited = Frontier(redis_client, "later", delay=0, max_pages=6, partitions=P)
    for host in (group[0] for group in groups):
        limited.release(host)
    fetched = 0
    for _ in range(10):  # the hosts in turn, as workers would, until the budget is spent
        entries = limited.pop(12).entries
        fetched += len(entries)
        for entry in entries:
            limited.release(host_of(entry.url))
    assert fetched == 6 - P
    assert limited.stats()["popped"] == 6 and not limited.has_work()


@pytest.mark.cluster_too
@pytest.mark.parametrize("partitions", [1, P], ids=["P=1", "P=4"])
def test_release_and_pop_release_first_then_pop_in_one_call(
    redis_client: redis.Redis, partitions: int
) -> None:
    f = Frontier(redis_client, "merged", delay=0, partitions=partitions)
    f.add([(f"http://a.com/{n}", 0) for n in (1, 2, 3)] + [("http://b.com/1", 0)])
    assert sorted(e.url for e in f.pop(8).entries) == ["http://a.com/1", "http://b.com/1"]
    failures, popped = f.release_and_pop("a.com", 8, failed=True)
    assert failures == 1 and [e.url for e in popped.entries] == ["http://a.com/2"]
    g = Frontier(redis_client, "merged", delay=0.3, partitions=partitions)
    released = time.time()
    failures, popped = g.release_and_pop("a.com", 8)  # a success: its failures start again
    assert failures == 0 and popped.entries == [] and popped.next_due is not None
    assert abs(popped.next_due - (released + 0.3)) < 0.05  # the delay holds (b.com in flight)
    time.sleep(0.35)
    assert [e.url for e in g.release_and_pop("b.com", 8)[1].entries] == ["http://a.com/3"]


@pytest.mark.cluster_too
def test_a_coordinator_ends_leases_it_never_held(redis_client: redis.Redis) -> None:
    worker = Frontier(redis_client, "acks", delay=0, partitions=P)
    urls = [f"http://{group[0]}/" for group in hosts_per_partition(1)]
    worker.add([(url, 0) for url in urls])
    assert len(worker.pop(8).entries) == P
    coordinator = Frontier(redis_client, "acks", delay=0, partitions=P)
    fps = [fingerprint(url) for url in urls]
    assert coordinator.renew(fps, time.time()) == []  # each kept by its own partition
    assert coordinator.ack(fps, failed=fps[:1]) == P
    assert coordinator.ack(fps) == 0  # again: nothing counts twice
    stats = coordinator.stats()
    assert (stats["recorded"], stats["failed"], stats["leased"]) == (P, 1, 0)
    assert coordinator.renew(fps, time.time()) == fps  # recorded: none is held any more


@pytest.mark.cluster_too
def test_the_partitions_are_fixed_when_the_job_is_created(redis_client: redis.Redis) -> None:
    jobs.save(redis_client, JobSpec(job="fixed", frontier_partitions=P))
    assert Frontier(redis_client, "fixed").partitions.count == P  # as saved
    assert Frontier(redis_client, "new").partitions.count == 1  # no spec: the keys of old
    spec, _ = resolve_spec(redis_client, "fixed", {"LINKGRAPH_DELAY": 2.0}, [])
    assert spec.frontier_partitions == P
    with pytest.raises(UsageError, match="has 4 frontier partitions, fixed when it was created"):
        resolve_spec(redis_client, "fixed", {"LINKGRAPH_FRONTIER_PARTITIONS": 2}, [])


DELAY = 0.2


def test_a_crawl_on_four_partitions_is_exact_polite_and_stops_at_max_pages(
    web: TestWeb, served: tuple[LocalWebServer, Path], tmp_path: Path
) -> None:
    server, hosts_file = served
    data = tmp_path / "data"
    args = ["crawl", "--job", "parts", "--data-dir", str(data), "--hosts-file", str(hosts_file),
            "--allow-private", "--delay", str(DELAY), "--workers", "2", "-q",
            *SHORT_BACKOFF]  # fmt: skip
    run_linkgraph(*args, "-s", f"LINKGRAPH_FRONTIER_PARTITIONS={P}", "--max-pages", "30",
                  *web.seeds(server.port))  # fmt: skip
    assert query(data, "SELECT count(), uniqExact(url) FROM pages") == [(30, 30)]
    recorded = {
        (parts.hostname, parts.path + (f"?{parts.query}" if parts.query else ""))
        for parts in (urlsplit(url) for (url,) in query(data, "SELECT url FROM pages"))
    }
    # no page beyond the budget was fetched (a robots-refused page is recorded, not fetched)
    assert set(page_fetches(server, web)) <= recorded
    run_linkgraph(*args, "--max-pages", "0")  # resumed: the saved partitions, no limit
    rows = query(data, "SELECT url, status FROM pages")
    assert dict(rows) == web.expected_pages(server.port) and len(rows) == len(dict(rows))
    assert page_fetches(server, web) == web.expected_fetches(), "a page fetched twice or not"
    delays, checked = web.crawl_delays(), 0
    for host, entries in by_host(server.requests()).items():
        delay = max(DELAY, delays.get(host, 0.0))
        for before, after in pairwise(entries):
            gap = after.started - before.finished
            assert gap >= delay - CLOCK_SLACK, f"{host}: {before.path} -> {after.path} {gap:.3f}s"
            checked += 1
    assert checked > 50
    with EmbeddedValkey(data) as valkey:
        client = redis.Redis.from_url(valkey.url)
        tags = {k.decode().split("}")[0] + "}" for k in client.scan_iter("lg:{parts*")}
        seen = sum(client.scard(JobKeys("parts", p).seen) for p in range(P))
        client.close()
    assert tags == {"lg:{parts}"} | {f"lg:{{parts:{p}}}" for p in range(P)}
    assert seen == len(web.expected_pages(server.port))


def test_status_counts_queued_hosts_in_every_partition(redis_client: redis.Redis) -> None:
    """`linkgraph status` lists the hosts with the most work queued, whichever partition holds
    them, and counts the hosts due over all partitions."""
    from crawler.cli.jobs import job_status

    jobs.save(redis_client, JobSpec(job="spread", frontier_partitions=P))
    frontier = Frontier(redis_client, "spread")
    hosts = [group[0] for group in hosts_per_partition(1)]
    frontier.add((f"http://{host}/{n}", 0) for i, host in enumerate(hosts) for n in range(i + 1))
    jobs.save(redis_client, JobSpec(job="spread", frontier_partitions=P))  # ended nothing: running
    status = job_status(redis_client, "spread")
    assert status["top_hosts"] == [
        {"host": host, "queued": i + 1} for i, host in reversed(list(enumerate(hosts)))
    ]
    assert status["hosts_due"] == P
    assert status["queued"] == 1 + 2 + 3 + 4
