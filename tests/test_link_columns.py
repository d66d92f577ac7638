"""The links' Arrow columns built a column at a time (crawler/link_columns.py, what
`ingest-warc` sends) are the stream the rows of `rows_of` make: the same bytes, so the same
rows, whatever the links' rels, anchors, types, hosts and pages."""

from __future__ import annotations

import random
from typing import Any

from crawler.columnar import LINK_SCHEMA, ArrowRows, arrow_stream, decode, encode
from crawler.items import Archived, Link, PageItem, ParsedPage
from crawler.link_columns import LinkColumns
from crawler.rows import REL_FLAGS, REL_FLAGS_SIZE, Batch, LinkRow, page_row, rows_of
from crawler.warc.ingest import BATCH_PAGES, Batcher

TARGETS = [
    "http://a.example.com/",
    "http://a.example.com/p/1?x=1",
    "https://www.example.co.uk/deep/path/",
    "https://shop.example.co.uk:8443/cart",
    "http://xn--bcher-kva.example/b%C3%BCcher",
    "http://bücher.example/ünïcödé",  # as no resolver leaves one: taken as it is all the same
    "https://h/",
    "http://127.0.0.1:8080/x",
    "https://[::1]/v6",
    "http://example.org",
]
RELS = [
    frozenset(),
    frozenset({"nofollow"}),
    frozenset({"ugc"}),
    frozenset({"sponsored"}),
    frozenset({"nofollow", "ugc", "sponsored"}),
    frozenset({"noopener", "noreferrer"}),
    frozenset({"external", "nofollow"}),
]
KINDS = [("a", "text"), ("a", "image"), ("area", "area"), ("iframe", "frame"), ("form", "form")]
ANCHORS = ["", "Home", "  ", "日本語のリンク", "x" * 300, "emoji 🔗"]


def page(rng: random.Random, number: int, links: int, url: str = "") -> PageItem:
    url = url or f"https://site{number % 4}.example{number % 3}.net/page/{number}"
    found = [
        Link(
            rng.choice(TARGETS) + ("" if n % 3 else f"?n={n}"),
            rng.choice(ANCHORS),
            rng.choice(RELS),
            *rng.choice(KINDS),
        )
        for n in range(links)
    ]
    return PageItem(
        job=f"job{number % 2}",
        url=url,
        depth=number % 5,
        status=200,
        content_type="text/html",
        body=b"<html>",
        fetched_at=1_767_225_600.5 + number * 0.0017,
        archived=Archived("/w/f.warc.gz", 100 * number, "<urn:uuid:1>", 1_767_225_600.5),
        parsed=ParsedPage(title="t", nofollow=number % 3 == 0, links=found),
    )


def generated(seed: int, pages: int) -> list[PageItem]:
    rng = random.Random(seed)
    items = []
    for number in range(pages):
        links = rng.choice([0, 0, 1, 2, 7, 40, 120])
        items.append(page(rng, number, links))
    # the same URL fetched twice in a batch, and a fetch that failed (no parse at all)
    items.append(page(rng, len(items), 5, url=items[1].url))
    items.append(PageItem(job="job0", url="http://gone.example/", depth=0, fetched_at=3.0))
    return items


def both_ways(items: list[PageItem]) -> tuple[bytes, bytes]:
    rows: list[LinkRow] = []
    columns = LinkColumns()
    for item in items:
        rows.extend(rows_of(item)[1])
        if item.parsed is not None:
            columns.add(page_row(item), item.parsed.links)
    assert len(columns) == len(rows)
    return arrow_stream(rows, LINK_SCHEMA), columns.stream()


def test_the_columns_are_the_stream_of_the_rows_byte_for_byte() -> None:
    items = generated(seed=11, pages=60)
    by_rows, by_columns = both_ways(items)
    expected = [link for item in items for link in rows_of(item)[1]]
    assert len(expected) > 500
    decoded = ArrowRows(by_columns, LinkRow, len(expected)).rows()
    for got, want in zip(decoded, expected, strict=True):  # field by field, named on failure
        assert got._asdict() == want._asdict()
    assert ArrowRows(by_rows, LinkRow, len(expected)).rows() == expected
    assert by_columns == by_rows


def test_every_kind_of_link_is_there() -> None:
    rows = [link for item in generated(seed=11, pages=60) for link in rows_of(item)[1]]
    assert {(r.nofollow, r.ugc, r.sponsored) for r in rows} == {
        (0, 0, 0),
        (1, 0, 0),
        (0, 1, 0),
        (0, 0, 1),
        (1, 1, 1),
    }
    assert {r.page_nofollow for r in rows} == {0, 1}
    assert {r.type for r in rows} == {"text", "image", "area", "frame", "form"}
    assert "" in {r.anchor for r in rows}
    assert {r.dst_host for r in rows} >= {"bücher.example", "h", "127.0.0.1", "[::1]"}
    assert len({r.dst_domain for r in rows}) >= 6 and len({r.src_domain for r in rows}) == 3
    assert len({r.job for r in rows}) == 2


def test_pages_without_links_make_the_same_empty_stream() -> None:
    rng = random.Random(3)
    by_rows, by_columns = both_ways([page(rng, n, 0) for n in range(3)])
    assert by_columns == by_rows
    assert ArrowRows(by_columns, LinkRow, 0).rows() == []


def test_more_distinct_rels_than_the_memo_holds() -> None:
    rng = random.Random(5)
    item = page(rng, 1, REL_FLAGS_SIZE + 50)
    assert item.parsed is not None
    item.parsed.links = [
        link._replace(rel=frozenset({f"token{n}", *RELS[n % len(RELS)]}))
        for n, link in enumerate(item.parsed.links)
    ]
    by_rows, by_columns = both_ways([item])
    assert by_columns == by_rows
    assert len(REL_FLAGS) <= REL_FLAGS_SIZE


def test_a_workers_batches_are_the_ones_rows_of_would_send() -> None:
    items = generated(seed=7, pages=BATCH_PAGES + 30)
    sent: list[Any] = []
    batcher = Batcher(sent.append, "file-key")
    for item in items:
        batcher.add(item)
    batcher.flush()
    assert [message[:3] for message in sent] == [
        ("batch", "file-key", "0"),
        ("batch", "file-key", "1"),
    ]
    cut = [items[:BATCH_PAGES], items[BATCH_PAGES:]]
    for message, part in zip(sent, cut, strict=True):
        rows = [rows_of(item) for item in part]
        pages = [page for page, _ in rows]
        links = [link for _, page_links in rows for link in page_links]
        assert message[3] == encode(Batch(pages, links, [], ""))
        batch = decode(message[3], "")
        assert list(batch.pages) == pages and list(batch.links) == links
