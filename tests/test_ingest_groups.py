"""ingest-warc stores a file's batches several at a time (crawler/warc/batches.py): the rows are
those the batches hold, once each, when a run is interrupted and the file read again, and when a
file fails halfway. Real WARC files read by the workers' code, real chDB."""

from __future__ import annotations

from collections.abc import Iterator
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from clickhouse_connect.driver.client import Client
from warcio.warcwriter import WARCWriter

from crawler import settings
from crawler.coalesce import GROUP_ROWS
from crawler.storage import StorageTarget, connect
from crawler.warc.batches import FileGroups
from crawler.warc.coordinator import ingest, store_batches
from crawler.warc.ingest import BATCH_PAGES, Report, State, file_key, read_file
from crawler.warc.pages import PageBuilder
from tests.test_coalesce import parts
from tests.test_ingest import http_record, page

JOB = "groups"
PAGES = 2 * BATCH_PAGES + 200  # three batches: two whole, one of 200 pages
LINKS_PER_PAGE = 2


@pytest.fixture
def index(tmp_path: Path) -> Iterator[Client]:
    client = connect(StorageTarget(f"chdb://{tmp_path}/index", tmp_path))
    client.command("SYSTEM STOP MERGES")  # each insert's part stays: parts count inserts
    yield client
    client.close()


@pytest.fixture
def warc(tmp_path: Path) -> Path:
    """A file of PAGES pages."""
    path = tmp_path / "pages.warc.gz"
    with path.open("wb") as out:
        writer = WARCWriter(out, gzip=True)
        for n in range(PAGES):
            links = (f"http://h{n % 7}.example/p{n + 1}", f"http://h{n % 5}.example/q{n + 2}")
            writer.write_record(
                http_record(writer, f"http://site{n}.example/", page(f"{n}", *links))
            )
    return path


@pytest.fixture
def messages(warc: Path) -> list[tuple[Any, ...]]:
    """What a worker sends for the file: its batches, then ("done", ...)."""
    sent: list[tuple[Any, ...]] = []
    read_file(PageBuilder(JOB), warc, file_key(warc), settings.DOWNLOAD_MAXSIZE, sent.append)
    assert [m[0] for m in sent] == ["batch", "batch", "batch", "done"]
    return sent


def feed(client: Client, groups: FileGroups, messages: list[tuple[Any, ...]]) -> Report:
    """The coordinator's part for one file's messages (crawler/warc/coordinator.py)."""
    report = Report()
    for message in messages:
        if message[0] == "batch":
            store_batches(client, groups.add(message[1], message[2], message[3]), report)
        else:
            store_batches(client, groups.end(message[1]), report)
    return report


def stored(client: Client) -> tuple[int, ...]:
    """Pages, distinct page URLs, links, distinct (source, target) pairs, and the rows
    backlinks_mv wrote (merges are stopped: a batch it saw twice would leave its rows twice)."""
    pages = client.query("SELECT count(), uniqExact(url) FROM pages").result_rows[0]
    links = client.query("SELECT count(), uniqExact(src_url, dst_url) FROM links").result_rows[0]
    backlinks = client.query("SELECT count() FROM backlinks_state").result_rows[0]
    return pages[0], pages[1], links[0], links[1], backlinks[0]


# every link is a backlink: site{n}.example links to two URLs on other domains
EVERY_ROW = (PAGES, PAGES, *[PAGES * LINKS_PER_PAGE] * 3)


def test_a_files_batches_are_stored_in_groups_of_their_rows(
    index: Client, messages: list[tuple[Any, ...]]
) -> None:
    # a group closes once it holds 1,500 link rows: the first two batches, then the last alone
    report = feed(index, FileGroups(JOB, group_rows=1500), messages)
    assert stored(index) == EVERY_ROW
    assert (report.pages, report.links) == (PAGES, PAGES * LINKS_PER_PAGE)
    assert (parts(index, "pages"), parts(index, "links"), parts(index, "backlinks_state")) == (
        2,
        2,
        2,
    )


def test_a_file_read_again_after_an_interruption_adds_no_rows(
    index: Client, messages: list[tuple[Any, ...]]
) -> None:
    # the first run stored the first group (two batches) and died before the file's end
    feed(index, FileGroups(JOB, group_rows=1500), messages[:2])
    assert stored(index)[0] == 2 * BATCH_PAGES
    feed(index, FileGroups(JOB, group_rows=1500), messages)
    assert stored(index) == EVERY_ROW


def test_a_file_failing_halfway_keeps_its_whole_groups_and_is_read_again_once(
    index: Client, messages: list[tuple[Any, ...]]
) -> None:
    groups = FileGroups(JOB, group_rows=1500)
    report = feed(index, groups, messages[:3])  # the worker failed after the third batch
    groups.drop(messages[0][1])
    assert stored(index)[0] == report.pages == 2 * BATCH_PAGES  # the third was not stored
    feed(index, FileGroups(JOB, group_rows=1500), messages)
    assert stored(index) == EVERY_ROW


def test_a_job_begun_before_groups_stores_its_files_batch_by_batch(
    tmp_path: Path, warc: Path, messages: list[tuple[Any, ...]]
) -> None:
    target = StorageTarget(f"chdb://{tmp_path}/index", tmp_path)
    state = tmp_path / "state.jsonl"
    client = connect(target)
    # a version before groups stored the file's first batch, under its own token, then stopped
    feed(client, FileGroups(JOB, group_rows=0), messages[:1])
    client.close()
    ingest([warc], JOB, target, processes=1, max_record_bytes=settings.DOWNLOAD_MAXSIZE,
           state_path=state, progress_seconds=0, out=StringIO())  # fmt: skip
    client = connect(target)
    try:
        assert stored(client)[:4] == EVERY_ROW[:4]  # grouped, its first batch would be twice
    finally:
        client.close()
    assert State(state).group_rows == 0  # ... and so on every run of the job


def test_a_new_job_notes_its_groups_before_storing_anything(tmp_path: Path, warc: Path) -> None:
    target = StorageTarget(f"chdb://{tmp_path}/index", tmp_path)
    state = tmp_path / "state.jsonl"
    report = ingest([warc], JOB, target, processes=1, max_record_bytes=settings.DOWNLOAD_MAXSIZE,
                    state_path=state, progress_seconds=0, out=StringIO())  # fmt: skip
    assert (report.pages, report.links) == (PAGES, PAGES * LINKS_PER_PAGE)
    assert state.read_text().splitlines()[0] == f'{{"group_rows": {GROUP_ROWS}}}'
