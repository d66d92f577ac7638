"""The batches a worker sends for one file, stored several at a time: one insert per group.

An insert costs its fixed part (a pipeline, a part per table and for `backlinks_mv`), and every
part written is merged again later, the more often the smaller it is: the background merges of
ingest-warc's 500-page batches cost the writing process as much CPU as the inserts themselves.
So a file's batches are joined (crawler/coalesce.py, message by message, no row decoded) until
a group holds `GROUP_ROWS` link rows, or the file ends.

Resuming must not store rows twice, so a group is the same on every run: a file is cut into the
same batches every time it is read, and its groups are cut from them in order, by their rows,
each with a token derived from its batches' tokens (coalesce.group_token). A file that fails
halfway keeps the groups stored before its failure; the batches of its group still forming are
dropped, not stored alone under tokens of their own, and the file is read again by the next run.
"""

from __future__ import annotations

from crawler.coalesce import GROUP_ROWS, group_token, joinable, joined
from crawler.columnar import decode
from crawler.rows import Batch
from crawler.warc.ingest import token


class FileGroups:
    """Groups of the batches of the files being read, by file key; `add` and `end` return the
    groups to store, each as one batch with its own deduplication token. With `group_rows` 0,
    each batch is stored alone (a job begun before groups: crawler/warc/ingest.py's State)."""

    def __init__(self, job: str, group_rows: int = GROUP_ROWS) -> None:
        self.job = job
        self.group_rows = group_rows
        self._forming: dict[str, list[Batch]] = {}  # each file's batches not yet stored

    def add(self, key: str, part: str, payload: bytes) -> list[Batch]:
        """A file's next batch, as the worker encoded it; the group it completes, if it does."""
        batch = decode(payload, "")
        batch.token = token(self.job, key, part)
        if not joinable(batch):  # rows in another version's columns: stored alone, in order
            return [*self._close(key), batch]
        forming = self._forming.setdefault(key, [])
        forming.append(batch)
        rows = sum(len(b.links) for b in forming)
        return self._close(key) if rows >= self.group_rows else []

    def end(self, key: str) -> list[Batch]:
        """The file's last group, once the worker has read the whole file."""
        return self._close(key)

    def drop(self, key: str) -> None:
        """A file the worker could not read to its end: its forming group is not stored."""
        self._forming.pop(key, None)

    def _close(self, key: str) -> list[Batch]:
        forming = self._forming.pop(key, [])
        if len(forming) <= 1:  # a batch alone keeps its own token, as it was stored before
            return forming
        return [joined(forming, group_token([b.token for b in forming]))]
