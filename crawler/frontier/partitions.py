"""The partitions of a job's frontier: where a host, or a leased page, lives.

A job's frontier is split by host into P partitions, fixed when the job is created
(LINKGRAPH_FRONTIER_PARTITIONS; keys.py says which keys each holds), so one job spreads over P
Redis Cluster slots. Every script touches one partition's keys only; what spans partitions is
done here, in one pipelined round trip: a page's links, grouped by partition, are one script
call per partition. With P = 1 the one partition is the job's own keys, and every call is what
it was before partitions existed.

A page acknowledged or renewed by fingerprint alone is routed to the partition this process
leased it from; one it never leased (a coordinator acknowledging a worker's batch) is sent to
every partition, where only the one holding its lease acts on it.
"""

from __future__ import annotations

import json
import random
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from typing import Any

import redis

from crawler.frontier import scripts
from crawler.frontier.keys import JobKeys, partition_of

# Leases whose partition a process remembers: a worker whose pages the coordinator acknowledges
# never learns they ended, so the oldest are forgotten (sent to every partition, if ever again).
REMEMBERED_LEASES = 100_000


def saved_count(client: redis.Redis, job_keys: JobKeys) -> int:
    """The partitions the job was created with, as its saved spec says (crawler/jobspec.py);
    1 for a job without one, or made before partitions existed."""
    raw = client.hget(job_keys.config, "spec")
    return int(json.loads(raw).get("frontier_partitions", 1)) if raw else 1


class Partition:
    """One partition: its keys, and the frontier's scripts bound to them."""

    def __init__(self, client: redis.Redis, keys: JobKeys) -> None:
        self.client = client
        self.keys = keys
        self.index = keys.partition or 0
        self._bound: dict[scripts.Script, tuple[Any, list[str]]] = {}

    def call(self, script: scripts.Script, args: Sequence[Any], client: Any = None) -> Any:
        """Run `script` on this partition's keys, as it declares them; `client`: a pipeline."""
        bound = self._bound.get(script)
        if bound is None:
            keys = [getattr(self.keys, name) for name in script.keys]
            bound = self._bound[script] = (self.client.register_script(script.lua), keys)
        lua, keys = bound
        argv = [self.keys.queue_prefix, *args]
        if client is not None and not isinstance(client, redis.client.Pipeline):
            # a cluster pipeline loads no script on the nodes it reaches: send the script itself
            return client.eval(script.lua, len(keys), *keys, *argv)
        return lua(keys=keys, args=argv, client=client)


# One script call on one partition: what a pipeline of several partitions' calls is made of.
Call = tuple[Partition, scripts.Script, Sequence[Any]]


class Partitions:
    """The job's partitions, and what this process learnt of where its leases live."""

    def __init__(self, client: redis.Redis, job_keys: JobKeys, count: int) -> None:
        self.client = client
        self.all = [Partition(client, keys) for keys in job_keys.partitions(count)]
        self.count = len(self.all)
        # Each process starts its round robin at its own partition, so workers spread out.
        self._next = random.randrange(self.count)
        # fingerprint -> partition, of the leases it took, oldest first
        self._leased_from: OrderedDict[str, int] = OrderedDict()

    def of_host(self, host: str) -> Partition:
        return self.all[partition_of(host, self.count)]

    def by_host(self, items: Iterable[tuple[str, Any]]) -> dict[Partition, list[Any]]:
        """(host, item) pairs grouped by the partition of the host, in their order."""
        groups: dict[Partition, list[Any]] = {}
        for host, item in items:
            groups.setdefault(self.of_host(host), []).append(item)
        return groups

    def by_fingerprint(self, fingerprints: Iterable[str]) -> dict[Partition, list[str]]:
        """Fingerprints grouped by the partition this process leased each from; the others go
        to every partition (with P = 1, all go to the one)."""
        if self.count == 1:
            return {self.all[0]: list(fingerprints)}
        groups: dict[Partition, list[str]] = {}
        for fp in fingerprints:
            p = self._leased_from.get(fp)
            for partition in self.all if p is None else (self.all[p],):
                groups.setdefault(partition, []).append(fp)
        return groups

    def leased(self, partition: Partition, fingerprints: Iterable[str]) -> None:
        """This process holds these leases, from `partition`."""
        if self.count > 1:
            self._leased_from.update(dict.fromkeys(fingerprints, partition.index))
            for _ in range(len(self._leased_from) - REMEMBERED_LEASES):
                self._leased_from.popitem(last=False)

    def ended(self, fingerprints: Iterable[str]) -> None:
        """These leases ended (recorded): forget where they were."""
        if self._leased_from:
            for fp in fingerprints:
                self._leased_from.pop(fp, None)

    def in_turn(self) -> list[Partition]:
        """Every partition, starting one further on each call (fair round robin)."""
        start = self._next
        self._next = (start + 1) % self.count
        return self.all[start:] + self.all[:start]

    def call_each(
        self, script: scripts.Script, calls: Iterable[tuple[Partition, Sequence[Any]]]
    ) -> list[tuple[Partition, Any]]:
        """Run `script` once per (partition, args), in one round trip; results in that order."""
        todo = list(calls)
        if len(todo) == 1:
            partition, args = todo[0]
            return [(partition, partition.call(script, args))]
        replies = self.pipelined([(partition, script, args) for partition, args in todo])
        return list(zip([p for p, _ in todo], replies, strict=True))

    def pipelined(self, calls: Sequence[Call]) -> list[Any]:
        """Run script calls in one round trip, in order; raises the first error. A server
        restarted meanwhile has lost its scripts: the calls it refused for that (none of them
        ran) are sent again once the pipeline has loaded them, the others' replies are kept."""
        replies: list[Any] = [None] * len(calls)
        pending = list(range(len(calls)))
        for _ in range(2):
            if not pending:
                break
            pipe = self.client.pipeline(transaction=False)
            for i in pending:
                partition, script, args = calls[i]
                partition.call(script, args, client=pipe)
            # A cluster pipeline sends scripts whole (no NOSCRIPT there) and retries a call
            # whose node failed over only while errors are raised: a failover must not end
            # the worker as a frontier error.
            standalone = isinstance(pipe, redis.client.Pipeline)
            for i, reply in zip(pending, pipe.execute(raise_on_error=not standalone), strict=True):
                replies[i] = reply
            pending = [i for i in pending if isinstance(replies[i], redis.exceptions.NoScriptError)]
        error = next((r for r in replies if isinstance(r, Exception)), None)
        if error is not None:
            raise error
        return replies
