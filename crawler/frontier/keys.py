"""Redis key names of a crawl job, in one place.

Every key of a job carries the job name in a hash tag (`{job}`), so that on Redis Cluster all of a
job's keys live in one slot and the frontier's Lua scripts may touch them together.
"""

from __future__ import annotations

from dataclasses import dataclass

PREFIX = "lg"
# Jobs known to this Redis; a plain set outside any job's slot, never read by a script.
JOBS_KEY = f"{PREFIX}:jobs"


@dataclass(frozen=True, slots=True)
class JobKeys:
    job: str

    def _key(self, name: str) -> str:
        return f"{PREFIX}:{{{self.job}}}:{name}"

    @property
    def base(self) -> str:
        """Prefix of per-host queue keys: `<base>q:<host>`."""
        return f"{PREFIX}:{{{self.job}}}:"

    @property
    def seen(self) -> str:
        """Set of 8-byte fingerprints of every URL ever enqueued."""
        return self._key("seen")

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
    def workers(self) -> str:
        """Sorted set: worker id -> last heartbeat (unix time)."""
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
        """Hash of counters: queued, popped, enqueued, recorded, ..."""
        return self._key("stats")

    @property
    def config(self) -> str:
        """Hash: the job's settings as first started (limits, delay, agent)."""
        return self._key("config")

    @property
    def rows(self) -> str:
        """Stream of row batches that workers hand to the process owning the embedded index."""
        return self._key("rows")

    def queue(self, host: str) -> str:
        return f"{self.base}q:{host}"
