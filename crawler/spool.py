"""A bounded on-disk spool of row batches waiting for the index (crawler/recorder.py fills it).

One file per batch, `<sequence>.batch`, in the hand-off's encoding (crawler/columnar.py), with
the batch's deduplication token; a batch handed over is spooled as it arrived. A file is written
whole (a temporary file, fsync, rename, fsync of the directory), so a crash leaves the whole
batch or nothing of it, and batches are replayed in sequence order.

A process spools into a slot, `<root>/<job>/<n>/`, that it holds an exclusive lock on (flock):
several processes may share a data dir (workers writing to a ClickHouse server), and a slot
left by a process that died, whose lock died with it, is taken over with its batches by the next
process of the job that starts on that data dir. `left_at` tells it when the dead process last
touched the batches' leases: the newest batch, or the last renewal (`mark`).

The bound is `max_bytes`: at that size the spool is `full` and the pipeline stops fetching
(crawler/recorder.py, pipelines/row_batcher.py). A batch is never refused: the pages already in
flight when fetching stops still come in, so the spool may end above the bound by at most those.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import IO, NamedTuple
from urllib.parse import quote

from crawler.columnar import decode, encode
from crawler.rows import Batch

SUFFIX = ".batch"
LOCK = "lock"


class Spooled(NamedTuple):
    seq: int
    size: int  # bytes on disk

    def name(self) -> str:
        return f"{self.seq:012d}{SUFFIX}"


class Spool:
    """Batches in arrival order, on disk; safe to use from several threads."""

    def __init__(self, directory: Path, max_bytes: int, lock: IO[bytes] | None = None) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        self._lock_file = lock
        self._mutex = threading.Lock()
        self._entries: deque[Spooled] = deque()
        self.bytes = 0
        for leftover in directory.glob("*.tmp"):
            leftover.unlink()  # a write cut short by a crash: its batch was never spooled
        for path in sorted(directory.glob(f"*{SUFFIX}")):
            entry = Spooled(int(path.name.removesuffix(SUFFIX)), path.stat().st_size)
            self._entries.append(entry)
            self.bytes += entry.size
        self._next = self._entries[-1].seq + 1 if self._entries else 0
        # When the previous holder last touched the leases of its batches (see `mark`)
        times = [(directory / e.name()).stat().st_mtime for e in self._entries]
        if times and (directory / LOCK).exists():
            times.append((directory / LOCK).stat().st_mtime)
        self.left_at = max(times, default=0.0)

    @classmethod
    def open(cls, root: Path, job: str, max_bytes: int) -> Spool:
        """The first slot of the job's spool under `root` that no live process holds."""
        base = root / quote(job, safe="")
        for slot in range(1024):
            directory = base / str(slot)
            directory.mkdir(parents=True, exist_ok=True)
            lock = (directory / LOCK).open("ab")
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                lock.close()
                continue
            return cls(directory, max_bytes, lock)
        raise RuntimeError(f"every spool slot under {base} is held by a live process")

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def full(self) -> bool:
        return self.bytes >= self.max_bytes

    def append(self, batch: Batch) -> None:
        """Add the batch after all the others, durably: it is on disk when this returns."""
        with self._mutex:
            entry = self._write(self._next, batch)
            self._next += 1
            self._entries.append(entry)
            self.bytes += entry.size

    def head(self) -> Batch | None:
        """The oldest batch, left in place until `pop`."""
        with self._mutex:
            first = self._entries[0] if self._entries else None
        return self._read(first) if first else None

    def pop(self) -> None:
        """Drop the oldest batch: it is stored."""
        with self._mutex:
            entry = self._entries.popleft()
            (self.directory / entry.name()).unlink()
            self.bytes -= entry.size

    def replace_head(self, batch: Batch) -> None:
        """Put `batch` in place of the oldest batch."""
        self.replace(self._entries[0].seq, batch)

    def batches(self) -> Iterator[tuple[int, Batch]]:
        """(sequence number, batch) of every batch, oldest first."""
        for entry in list(self._entries):
            yield entry.seq, self._read(entry)

    def replace(self, seq: int, batch: Batch | None) -> None:
        """Put `batch` in place of batch `seq`, keeping its place in the order (None: drop it)."""
        with self._mutex:
            at = next(i for i, e in enumerate(self._entries) if e.seq == seq)
            old = self._entries[at]
            if batch is None:
                (self.directory / old.name()).unlink()
                del self._entries[at]
                self.bytes -= old.size
                return
            self._entries[at] = self._write(seq, batch)
            self.bytes += self._entries[at].size - old.size

    def mark(self, when: float) -> None:
        """Note that the leases of the spooled pages were renewed up to `when` (the lock file's
        modification time): a process taking this spool over later claims only leases no
        newer than this, since a lease handed out again after its holder died is newer."""
        os.utime(self.directory / LOCK, (when, when))

    def close(self) -> None:
        if self._lock_file is not None:
            self._lock_file.close()  # releases the slot
            self._lock_file = None

    def _write(self, seq: int, batch: Batch) -> Spooled:
        entry = Spooled(seq, 0)
        path = self.directory / entry.name()
        temporary = path.with_suffix(".tmp")
        data = encode(batch)
        with temporary.open("wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        temporary.replace(path)
        directory = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(directory)  # the rename itself is on disk
        finally:
            os.close(directory)
        return entry._replace(size=len(data))

    def _read(self, entry: Spooled) -> Batch:
        path = self.directory / entry.name()
        return decode(path.read_bytes(), f"spool/{path}")
