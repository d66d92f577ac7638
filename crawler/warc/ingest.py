"""`linkgraph ingest-warc`: the link index built from WARC files, without fetching anything.

Worker processes read whole files (crawler/warc/reader.py), turn each response into the page a
crawl would have recorded (crawler/warc/pages.py) and send its rows back in batches; this
process alone writes them to the index (chDB serves one process). A revisit record is read with
its original's payload: from the same file when it is there, else once every file has been read
(the originals are then looked up by digest in the files of the run).

Resuming: a file is noted done in `<data dir>/ingest/<job>.jsonl` once all its rows are stored,
and skipped by the next run. A file interrupted halfway is read again from its start, and its
batches, cut the same way and stored in the same groups (crawler/warc/batches.py) with the same
insert_deduplication_tokens, are stored once.
"""

from __future__ import annotations

import gc
import hashlib
import json
import os
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from crawler.columnar import ArrowRows, encode
from crawler.items import PageItem
from crawler.link_columns import LinkColumns
from crawler.rows import Batch, LinkRow, PageRow, page_row
from crawler.urls import registered_domain
from crawler.warc.http import Fetched, Skipped
from crawler.warc.pages import PageBuilder
from crawler.warc.reader import WAT_OTHER, http_records, read_record_at

BATCH_PAGES = 500
SHOWN_SKIPS = 50  # skipped records listed one per line in the report; the rest are counted
# Records skipped as they should be: counted, not listed.
EXPECTED_SKIPS = frozenset({"robots.txt fetched by a crawl"})
# A worker's gen-0 collection threshold (Python's: 700): above a batch's rows (~50,000)
YOUNG_OBJECTS = 100_000


@dataclass
class Report:
    files: int = 0
    already: int = 0
    records: int = 0
    pages: int = 0
    links: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    lines: list[str] = field(default_factory=list)  # one per skipped record, the first ones

    def skip(self, file: str, skipped: Skipped) -> None:
        self.skipped[skipped.reason] += 1
        if skipped.reason not in EXPECTED_SKIPS and len(self.lines) < SHOWN_SKIPS:
            detail = f": {printable(skipped.detail)}" if skipped.detail else ""
            where = f"{Path(file).name}@{skipped.offset}"
            url = printable(skipped.url) or "-"
            self.lines.append(f"{where} {url}: {skipped.reason}{detail}")

    def write(self, out: TextIO, job: str, seconds: float, processes: int) -> None:
        rate = self.pages / seconds if seconds > 0 else 0.0
        out.write(
            f"ingest-warc job {job}: {self.files} files read ({self.already} done before), "
            f"{self.records} records: {self.pages} pages, {self.links} links in {seconds:.1f} s "
            f"({rate:.0f} pages/s with {processes} processes)\n"
        )
        total = sum(self.skipped.values())
        out.write(f"skipped {total} records\n" if total else "skipped no records\n")
        for reason, count in self.skipped.most_common():
            out.write(f"  {count:>9}  {reason}\n")
        for line in self.lines:
            out.write(f"  {line}\n")
        listed = total - sum(self.skipped[reason] for reason in EXPECTED_SKIPS)
        if listed > len(self.lines):
            out.write(f"  ... and {listed - len(self.lines)} more\n")


def printable(text: str, limit: int = 200) -> str:
    """One line of ASCII, whatever a damaged record held."""
    text = text.encode("ascii", "backslashreplace").decode("ascii")
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return text[:limit] + ("..." if len(text) > limit else "")


def file_key(path: Path) -> str:
    return f"{path}:{path.stat().st_size}"


def token(job: str, key: str, part: str) -> str:
    return hashlib.sha1(f"{job}\0{key}\0{part}".encode()).hexdigest()


class Batcher:
    def __init__(self, send: Any, key: str) -> None:
        self.send, self.key = send, key
        self.pages: list[PageRow] = []
        self.links = LinkColumns()
        self.count = 0

    def add(self, item: PageItem) -> None:
        """One more parsed page: its row now, its links' rows as columns when the batch is sent."""
        page = page_row(item)
        self.pages.append(page)
        if item.parsed is not None:
            self.links.add(page, item.parsed.links)
        if len(self.pages) >= BATCH_PAGES:
            self.flush()

    def flush(self) -> None:
        if self.pages:
            # As Arrow columns (crawler/columnar.py), encoded here, in parallel: the one process
            # that inserts them hands them to ClickHouse as they are, and unpickles a byte string
            # instead of a hundred tuples a page. The links' columns are built from the parsed
            # links (crawler/link_columns.py): the stream rows_of's rows would make, in a
            # fraction of the time.
            links = ArrowRows(self.links.stream(), LinkRow, len(self.links))
            self.send(
                ("batch", self.key, str(self.count), encode(Batch(self.pages, links, [], "")))
            )
            self.count += 1
            self.pages, self.links = [], LinkColumns()


def read_file(builder: PageBuilder, path: Path, key: str, max_record_bytes: int, send: Any) -> None:
    """Send a file's rows in batches, then ("done", key, skipped, records, pending revisits)."""
    originals: dict[str, int] = {}  # payload digest -> offset of its response record here
    pending: list[tuple[int, str]] = []
    skipped: list[Skipped] = []
    records = 0
    batcher = Batcher(send, key)
    for record in http_records(path, max_record_bytes):
        if isinstance(record, Skipped):
            if record.reason != WAT_OTHER:  # a WAT's requests and such are not pages
                skipped.append(record)
            continue
        records += 1
        digest = record.fields.get("WARC-Payload-Digest", "")
        original: Fetched | None = None
        if record.kind == "revisit":
            found = originals.get(digest)
            read = read_record_at(path, found, max_record_bytes) if found is not None else None
            if not isinstance(read, Fetched):
                pending.append((record.offset, digest))
                continue
            original = read
        elif digest:
            originals.setdefault(digest, record.offset)
        page = builder.page(record, path, original)
        if isinstance(page, Skipped):
            skipped.append(page)
        else:
            batcher.add(page)
    batcher.flush()
    send(("done", key, skipped, records, pending))


def _worker(job: str, max_record_bytes: int, tasks: Any, results: Any) -> None:
    # warcio prints its own warnings about odd records to stderr; the report says what matters
    sys.stderr = open(os.devnull, "w")  # noqa: SIM115 (for the life of this process)
    builder = PageBuilder(job)
    quiet_collector()
    while (task := tasks.get()) is not None:
        path, key = Path(task[0]), task[1]
        try:
            read_file(builder, path, key, max_record_bytes, results.put)
        except Exception as exc:  # one file's failure is reported, the others go on
            results.put(("failed", key, f"{type(exc).__name__}: {exc}".splitlines()[0]))


def quiet_collector() -> None:
    """Keeps Python's cyclic garbage collector from costing a worker a fifth of its CPU.

    A page makes a few hundred objects (parser nodes, links, rows) that reference counting frees
    or the batch's encoding drops; none are in cycles. With the default thresholds the collector
    looks at them every few pages, and every few hundred pages walks all the process has loaded
    (modules, the public suffix trie). What is loaded lives as long as the process: it is frozen
    out of the walks, and the young generation is collected only past a batch's worth of rows.
    It is frozen without a collection first: a worker's start leaves no cyclic garbage to free
    (none found), and the walk of all it loaded would cost it 30 ms of CPU.
    """
    registered_domain("example.com")  # loads the public suffix list, to be frozen with the rest
    gc.freeze()
    gc.set_threshold(YOUNG_OBJECTS, *gc.get_threshold()[1:])


class State:
    """The files of a job already ingested, and their revisits still unresolved."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.done: set[str] = set()
        self.pending: dict[str, list[tuple[int, str]]] = {}
        # The link rows a group of batches holds in this job (crawler/warc/batches.py); None
        # until a run says, 0: each batch stored alone, as versions before groups stored them.
        self.group_rows: int | None = None
        if path.exists():
            for line in path.read_text().splitlines():
                entry = json.loads(line)
                if "group_rows" in entry:
                    self.group_rows = entry["group_rows"]
                elif "done" in entry:
                    self.done.add(entry["done"])
                    if entry["pending"]:
                        self.pending[entry["done"]] = [tuple(p) for p in entry["pending"]]
                else:
                    self.pending.pop(entry["resolved"], None)

    def _note(self, entry: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a") as out:
            out.write(json.dumps(entry) + "\n")

    def grouping(self, group_rows: int) -> None:
        """Notes, before any row is stored, how this job's batches are grouped: a file read
        again must be cut into the same groups, with the same tokens."""
        self.group_rows = group_rows
        self._note({"group_rows": group_rows})

    def finished(self, key: str, pending: list[tuple[int, str]]) -> None:
        self.done.add(key)
        if pending:
            self.pending[key] = pending
        self._note({"done": key, "pending": pending})

    def resolved(self, key: str) -> None:
        self.pending.pop(key, None)
        self._note({"resolved": key})
