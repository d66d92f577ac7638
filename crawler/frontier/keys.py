"""Redis key names of a crawl job, in one place.

Every key of a job carries the job name in a hash tag (`{job}`), so that on Redis Cluster all of a
job's keys live in one slot and the frontier's Lua scripts may touch them together. The scripts
(scripts/) name no key themselves: each is given the keys it declares as KEYS[], and builds the
per-host queue keys from `queue_prefix`.

A job may split its frontier into P partitions, fixed when it is created
(LINKGRAPH_FRONTIER_PARTITIONS), so that one job spreads over P slots. Partition p has its own tag
`{job:p}` and holds every per-host key of the hosts whose `partition_of` is p (their queues,
seen fingerprints, due times, delays, failures and leases), so dedupe and politeness stay exact
within one slot. What is job-wide stays on the job's own tag: config, rows, robots, sitemaps,
sitemap_hosts, dropped and budget. With P = 1 the one partition is the job's own tag: the keys
are those of a job made before partitions existed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

PREFIX = "lg"
# Jobs known to this Redis; a plain set outside any job's slot, never read by a script.
JOBS_KEY = f"{PREFIX}:jobs"
# Re-crawls whose alert (their `alert` hash) is not delivered yet; a plain set, as JOBS_KEY.
ALERTS_KEY = f"{PREFIX}:alerts"


def partition_of(host: str, partitions: int) -> int:
    """The partition holding `host`: a hash that every process computes alike (Python's hash()
    differs per process), and well mixed (crc32 mod 4 puts a.com ... g.com in one partition)."""
    if partitions <= 1:
        return 0
    digest = hashlib.blake2b(host.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % partitions


@dataclass(frozen=True, slots=True)
class JobKeys:
    job: str
    partition: int | None = None  # None: the job's own tag, which is also the only partition

    def _key(self, name: str) -> str:
        return self.base + name

    @property
    def tag(self) -> str:
        """The hash tag: `job`, or `job:p` for partition p of a partitioned job."""
        return self.job if self.partition is None else f"{self.job}:{self.partition}"

    @property
    def base(self) -> str:
        """Prefix of every key under this tag (scrapy-redis is given the job's as its queue key)."""
        return f"{PREFIX}:{{{self.tag}}}:"

    def partitions(self, count: int) -> list[JobKeys]:
        """The keys of each of the job's `count` partitions; one: the job's own keys."""
        if count <= 1:
            return [JobKeys(self.job)]
        return [JobKeys(self.job, p) for p in range(count)]

    @property
    def queue_prefix(self) -> str:
        """Prefix of the per-host queues, `<queue_prefix><host>` (see `queue`). The scripts get
        it rather than the queue keys: POP learns which host it pops only inside Redis."""
        return self._key("q:")

    @property
    def seen(self) -> str:
        """Set of 8-byte fingerprints of every URL ever enqueued."""
        return self._key("seen")

    @property
    def bloom(self) -> str:
        """Hash: the geometry of the Bloom filter a job of LINKGRAPH_DEDUPE = "bloom" keeps
        instead of `seen`, whose bits are in the strings `<bloom>:<piece>` (bloom.py)."""
        return self._key("bloom")

    @property
    def due(self) -> str:
        """Sorted set: host -> unix time it may next be fetched (or its lease runs out)."""
        return self._key("due")

    @property
    def next_at(self) -> str:
        """Hash: host -> earliest next fetch time, kept while the host has nothing queued."""
        return self._key("next_at")

    @property
    def delay(self) -> str:
        """Hash: host -> seconds between two requests (max of --delay and Crawl-delay)."""
        return self._key("delay")

    @property
    def leases(self) -> str:
        """Hash: url fingerprint -> the popped entry, until its page is recorded."""
        return self._key("leases")

    @property
    def lease_times(self) -> str:
        """Sorted set: url fingerprint -> unix time it was leased (what the reaper scans)."""
        return self._key("lease_times")

    @property
    def lease_owners(self) -> str:
        """Hash: url fingerprint -> id of the worker holding its lease (see `workers`)."""
        return self._key("lease_owners")

    @property
    def lost_leases(self) -> str:
        """Hash: url fingerprint -> times its lease was returned because its worker died or
        the lease ran out (a page that kills or hangs its worker)."""
        return self._key("lost_leases")

    @property
    def poisoned(self) -> str:
        """Hash: url fingerprint -> entry whose lease was lost too often: never fetched again,
        it waits here for a worker to record it with the reason."""
        return self._key("poisoned")

    @property
    def workers(self) -> str:
        """Sorted set: worker id -> last heartbeat (unix time). A worker that stops leaves it;
        one whose heartbeat lapsed stays until its leases are returned. Each partition has its
        own copy, which every heartbeat writes, so its scripts see the beats in their slot."""
        return self._key("workers")

    @property
    def failures(self) -> str:
        """Hash: host -> consecutive failed fetches (reset by a success)."""
        return self._key("failures")

    @property
    def parked(self) -> str:
        """Hash: host -> until when it is parked after repeated failures."""
        return self._key("parked")

    @property
    def dropped(self) -> str:
        """Hash: host -> why it was given up; its URLs are recorded with that reason."""
        return self._key("dropped")

    @property
    def retries(self) -> str:
        """Hash: url fingerprint -> times its fetch was retried."""
        return self._key("retries")

    @property
    def host_count(self) -> str:
        """Hash: host -> URLs enqueued for it (for --max-pages-per-host)."""
        return self._key("host_count")

    @property
    def robots(self) -> str:
        """Hash: origin -> serialised robots policy, shared by every worker."""
        return self._key("robots")

    @property
    def stats(self) -> str:
        """Hash of counters: queued, popped, enqueued, recorded, failed, retried, and arrivals
        (the sequence that keeps equal priorities first come, first served); per partition,
        and with P > 1 and a page budget, granted (its share of `budget`, see POP)."""
        return self._key("stats")

    @property
    def budget(self) -> str:
        """String (job-wide, P > 1 with a page budget): pages of LINKGRAPH_MAX_PAGES granted to
        the partitions so far; a partition with nothing left to pop gives its rest back."""
        return self._key("budget")

    @property
    def figures(self) -> str:
        """Hash of the job's page figures (crawler/jobstats.py), counted by ACK as a page's row
        is stored, so a batch acknowledged again counts nothing twice: pages, links, bytes,
        robots_refused, `status:<class>` (2xx ... 5xx, none) and `error:<class>`."""
        return self._key("figures")

    @property
    def host_pages(self) -> str:
        """Sorted set: host -> its pages recorded (counted with `figures`)."""
        return self._key("host_pages")

    @property
    def host_failures(self) -> str:
        """Sorted set: host -> its pages recorded with a fetch error or a 5xx (with `figures`)."""
        return self._key("host_failures")

    @property
    def host_seconds(self) -> str:
        """Hash: host -> seconds its responses took to arrive, summed (counted at RELEASE)."""
        return self._key("host_seconds")

    @property
    def host_fetches(self) -> str:
        """Hash: host -> responses timed in `host_seconds`."""
        return self._key("host_fetches")

    @property
    def sitemaps(self) -> str:
        """Set of the URLs registered as sitemaps: fetched, each is read as one, not as HTML."""
        return self._key("sitemaps")

    @property
    def sitemap_hosts(self) -> str:
        """Hash: host -> sitemaps registered for it (LINKGRAPH_MAX_SITEMAPS_PER_HOST)."""
        return self._key("sitemap_hosts")

    @property
    def config(self) -> str:
        """Hash: the job's spec, its state (running, paused, stopped: what workers follow), when
        this run started (`started`, `pages_at_start`), until when the process that records
        its end is known alive (`owner_until`) and, once it ended, `ended`, `outcome` and the
        end `summary` (crawler/jobs.py, crawler/jobstats.py)."""
        return self._key("config")

    @property
    def alert(self) -> str:
        """Hash (a re-crawl the service started): its alert's `webhook`, `watch_domains` and
        `allow_private`, and once composed its JSON `body`; kept across restarts until the
        webhook has taken it (crawler/service/pending_alerts.py)."""
        return self._key("alert")

    @property
    def rows(self) -> str:
        """Stream of row batches that workers hand to the process owning the embedded index.
        Beside it, on the same tag: `rows:grouped` (string, JSON: the groups of entries being
        inserted together, so a restarted owner forms the same ones again) and `rows:recorded`
        (sorted set: token -> when, the batches recorded lately), both
        crawler/stream_consumer.py's."""
        return self._key("rows")

    def queue(self, host: str) -> str:
        """Sorted set of the host's queued entries, scored priority * 2^32 + arrival number."""
        return self.queue_prefix + host
