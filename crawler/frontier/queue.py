"""The scrapy-redis queue class over the frontier: push one seed, pop leased requests."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from scrapy_redis.queue import Base

from crawler.frontier import Entry, Frontier

if TYPE_CHECKING:
    from scrapy import Request


class HostQueue(Base):
    """Per-host FIFO queues ordered by when each host is due (see scripts/pop.py).

    Requests are stored as frontier entries (JSON), never pickled Request objects; the spider
    turns an entry back into a Request, so queued state stays readable and compact.
    """

    def __init__(self, frontier: Frontier, spider: Any, worker: str = "") -> None:
        super().__init__(frontier.client, spider, frontier.keys.base, _EntrySerializer)
        self.frontier = frontier
        self.worker = worker  # who holds the leases it pops (see Frontier.pop)
        self.next_due: float | None = None  # when nothing is due: when the next host will be

    def __len__(self) -> int:
        return self.frontier.queued()

    def push(self, request: Request) -> int:
        """Queue the request's URL unless the job has seen it; returns 1 if queued, else 0."""
        return self.frontier.add([(request.url, int(request.meta.get("depth", 0)))])

    def pop(self, timeout: int = 0) -> Request | None:
        # One at a time: an entry popped is a host's turn taken, so none is held back here.
        popped = self.frontier.pop(1, self.worker)
        self.next_due = popped.next_due
        if not popped.entries:
            return None
        request: Request = self.spider.request_for(popped.entries[0])
        return request

    def clear(self) -> None:  # a job's state is only ever dropped on purpose, by the CLI
        raise NotImplementedError("linkgraph never flushes a frontier from the scheduler")


class _EntrySerializer:
    """Entries are JSON written by the frontier itself; scrapy-redis only checks this exists."""

    @staticmethod
    def loads(raw: bytes) -> Entry:
        return Entry.loads(raw)

    @staticmethod
    def dumps(entry: Entry) -> str:
        return entry.dumps()
