"""The declared rows are the tables: same columns, same order, and every field filled by name."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone
from typing import get_type_hints

import pytest
from clickhouse_connect.driver.client import Client

from crawler.items import Archived, Link, PageItem, ParsedPage
from crawler.rows import LINK_COLUMNS, PAGE_COLUMNS, LinkRow, PageRow, as_millis, millis, rows_of
from crawler.storage import StorageTarget, connect

# ClickHouse type families each Python field type may be written to
TYPE_FAMILIES = {
    str: ("String", "LowCardinality(String)"),
    int: ("UInt8", "UInt16", "UInt32", "UInt64"),
}
TIME_TYPE = "DateTime64(3, 'UTC')"


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    """A chDB index with every migration applied."""
    client = connect(StorageTarget("", tmp_path_factory.mktemp("rows")))
    yield client
    client.close()


def table_columns(client: Client, table: str) -> list[tuple[str, str]]:
    rows = client.query(
        "SELECT name, type FROM system.columns WHERE database = currentDatabase() "
        "AND table = {table:String} ORDER BY position",
        parameters={"table": table},
    ).result_rows
    return [(str(name), str(kind)) for name, kind in rows]


@pytest.mark.parametrize(("table", "row"), [("pages", PageRow), ("links", LinkRow)])
def test_declared_columns_are_the_table_columns_in_order(
    index: Client, table: str, row: type[PageRow] | type[LinkRow]
) -> None:
    columns = table_columns(index, table)
    assert [name for name, _ in columns] == list(row._fields)
    declared_types = get_type_hints(row)
    for name, kind in columns:
        declared = declared_types[name]
        if name == "fetched_at":
            assert (declared, kind) == (int, TIME_TYPE)
        else:
            assert kind in TYPE_FAMILIES[declared], (name, declared, kind)


def test_column_lists_come_from_the_rows() -> None:
    assert PAGE_COLUMNS[:4] == ("job", "url", "host", "domain") and len(PAGE_COLUMNS) == 18
    assert LINK_COLUMNS[-2:] == ("page_nofollow", "fetched_at") and len(LINK_COLUMNS) == 15


def test_rows_of_fills_every_column_by_name() -> None:
    item = PageItem(
        job="j1",
        url="https://www.example.co.uk/a",
        depth=3,
        status=200,
        content_type="text/html",
        body=b"x" * 1234,
        fetched_at=1_767_225_600.1234567,
        location="",
        archived=Archived("/warc/a.warc.gz", 4567, "<urn:uuid:x>", 1_767_225_600.1234567),
        parsed=ParsedPage(
            title="Title",
            canonical="https://www.example.co.uk/c",
            noindex=True,
            nofollow=True,
            links=[
                Link("http://b.example.org/x", "first", frozenset({"nofollow"}), "a", "image"),
                Link(
                    "http://shop.c.example.net/",
                    "",
                    frozenset({"ugc", "sponsored"}),
                    "area",
                    "area",
                ),
            ],
        ),
    )
    page, links = rows_of(item)
    when = 1_767_225_600_123
    assert page._asdict() == {
        "job": "j1",
        "url": "https://www.example.co.uk/a",
        "host": "www.example.co.uk",
        "domain": "example.co.uk",
        "status": 200,
        "content_type": "text/html",
        "bytes": 1234,
        "depth": 3,
        "fetched_at": when,
        "title": "Title",
        "canonical": "https://www.example.co.uk/c",
        "noindex": 1,
        "nofollow": 1,
        "error": "",
        "location": "",
        "links": 2,
        "warc_file": "/warc/a.warc.gz",
        "warc_offset": 4567,
    }
    source = {
        "job": "j1",
        "src_url": "https://www.example.co.uk/a",
        "src_host": "www.example.co.uk",
        "src_domain": "example.co.uk",
        "page_nofollow": 1,
        "fetched_at": when,
    }
    assert [link._asdict() for link in links] == [
        {
            **source,
            "dst_url": "http://b.example.org/x",
            "dst_host": "b.example.org",
            "dst_domain": "example.org",
            "anchor": "first",
            "tag": "a",
            "type": "image",
            "nofollow": 1,
            "ugc": 0,
            "sponsored": 0,
        },
        {
            **source,
            "dst_url": "http://shop.c.example.net/",
            "dst_host": "shop.c.example.net",
            "dst_domain": "example.net",
            "anchor": "",
            "tag": "area",
            "type": "area",
            "nofollow": 0,
            "ugc": 1,
            "sponsored": 1,
        },
    ]


def test_a_failed_fetch_is_a_page_row_without_links() -> None:
    item = PageItem(job="j", url="http://gone.example/", depth=0, fetched_at=2.0, error="dns")
    page, links = rows_of(item)
    assert links == []
    assert (page.status, page.error, page.title, page.noindex, page.nofollow, page.links) == (
        0,
        "dns",
        "",
        0,
        0,
        0,
    )
    assert page.fetched_at == 2000


def test_times_are_milliseconds_as_a_datetime_stores_them() -> None:
    moment = datetime(2026, 1, 1, 0, 0, 0, 999_500, tzinfo=timezone.utc)
    assert millis(moment.timestamp()) == 1_767_225_600_999
    assert as_millis((moment, 1_767_225_600.0004)) == (1_767_225_600_999, 1_767_225_600_000)
    assert as_millis((5, 6)) == (5, 6)  # already ticks: passed through
