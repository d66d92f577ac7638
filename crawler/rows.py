"""Rows of the `pages` and `links` tables, and the batches they travel in.

`PageRow` and `LinkRow` are the tables' columns, declared once, in the tables' order: the row
builder (`rows_of`), the stream hand-off and the insert all take their names and order from here,
and tests/test_rows.py checks them against the tables the migrations create. A new column is a
field here (with a default, or a value in `rows_of`) plus a migration in deploy/clickhouse/.

A row is a NamedTuple: its fields have names and types (mypy checks what goes in), and it is still
a plain tuple, so its batch's Arrow columns (crawler/columnar.py) are made from it with no
per-row conversion on the hot path. tests/test_rows.py checks each field `rows_of` fills by
name, so a value in the wrong place fails a test instead of landing silently in the wrong column.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple
from uuid import uuid4

from crawler.items import PageItem, ParsedPage
from crawler.linkcache import DESTINATIONS
from crawler.urls import host_of, registered_domain


class PageRow(NamedTuple):
    """One fetch attempt: a response, a redirect, an error or a refusal."""

    job: str
    url: str
    host: str
    domain: str
    status: int
    content_type: str
    bytes: int
    depth: int
    fetched_at: int  # milliseconds since the epoch (DateTime64(3) ticks), see `millis`
    title: str
    canonical: str
    noindex: int
    nofollow: int  # page-level: its links are recorded, not followed
    error: str
    location: str
    links: int  # link rows recorded for this fetch
    warc_file: str = ""  # the WARC file holding this fetch's response record; "" = not archived
    warc_offset: int = 0  # that record's offset in the file (`linkgraph warc URL` reads it)


class LinkRow(NamedTuple):
    """One link occurrence on one fetch of its source page."""

    job: str
    src_url: str
    src_host: str
    src_domain: str
    dst_url: str
    dst_host: str
    dst_domain: str
    anchor: str
    tag: str
    type: str  # crawler/items.py's LINK_TYPES
    nofollow: int
    ugc: int
    sponsored: int
    page_nofollow: int
    fetched_at: int  # the source page's `fetched_at`: (src_url, fetched_at) names the fetch


PAGE_COLUMNS: tuple[str, ...] = PageRow._fields
LINK_COLUMNS: tuple[str, ...] = LinkRow._fields
TIME_COLUMN = "fetched_at"
_UNPARSED = ParsedPage()


_new_row = tuple.__new__
# The (nofollow, ugc, sponsored) columns of a link's rel tokens: a few distinct sets of tokens
# recur on every page. Bounded, as a page may make up any number of tokens.
REL_FLAGS: dict[frozenset[str], tuple[int, int, int]] = {frozenset(): (0, 0, 0)}
REL_FLAGS_SIZE = 1024


def rel_flags(rel: frozenset[str]) -> tuple[int, int, int]:
    flags = (int("nofollow" in rel), int("ugc" in rel), int("sponsored" in rel))
    if len(REL_FLAGS) >= REL_FLAGS_SIZE:
        REL_FLAGS.clear()
    REL_FLAGS[rel] = flags
    return flags


def millis(unix_seconds: float) -> int:
    """A unix time as DateTime64(3) ticks, the value the driver stores as it is: rounded to the
    microsecond, then cut to the millisecond, as a datetime would be."""
    return round(unix_seconds * 1_000_000) // 1000


def as_millis(values: tuple[Any, ...]) -> tuple[Any, ...]:
    """A time column as ticks; rows built elsewhere may carry unix seconds or datetimes."""
    if not values or type(values[0]) is int:
        return values
    return tuple(millis(v.timestamp() if isinstance(v, datetime) else float(v)) for v in values)


def page_row(item: PageItem) -> PageRow:
    """The `pages` row of one fetch attempt (`links`: one link row per link it parsed)."""
    host = host_of(item.url)
    parsed = item.parsed or _UNPARSED
    return PageRow(
        job=item.job,
        url=item.url,
        host=host,
        domain=registered_domain(host),
        status=item.status,
        content_type=item.content_type,
        bytes=len(item.body),
        depth=item.depth,
        fetched_at=millis(item.fetched_at),
        title=parsed.title,
        canonical=parsed.canonical,
        noindex=int(parsed.noindex),
        nofollow=int(parsed.nofollow),
        error=item.error or parsed.incomplete,  # a page only partly read says why
        location=item.location,
        links=len(parsed.links),
        warc_file=item.archived.path if item.archived else "",
        warc_offset=item.archived.offset if item.archived else 0,
    )


def rows_of(item: PageItem) -> tuple[PageRow, list[LinkRow]]:
    """The `pages` row of one fetch attempt and the `links` rows of its links (`ingest-warc`
    builds the same link rows as Arrow columns: crawler/link_columns.py)."""
    page = page_row(item)
    job, url, host, domain = page.job, page.url, page.host, page.domain
    page_nofollow, when = page.nofollow, page.fetched_at
    # About a hundred links a page: each row is built with the fewest Python steps, its
    # target's host and domain from a memo (crawler/linkcache.py).
    known, destination = DESTINATIONS.get, DESTINATIONS.of
    links: list[LinkRow] = []
    append = links.append
    for dst, anchor, rel, tag, kind in (item.parsed or _UNPARSED).links:  # unpacked at once
        end = dst.find("/", 8)  # Destinations.key, inline
        origin = dst[:end] if end > 0 else dst
        dst_host, dst_domain = known(origin) or destination(origin)
        nofollow, ugc, sponsored = REL_FLAGS.get(rel) or rel_flags(rel)
        # By position, in the declared order, through tuple.__new__: keywords, or even the
        # NamedTuple's own __new__, would double the cost. tests/test_rows.py checks every
        # field by name.
        append(
            _new_row(
                LinkRow,
                (
                    job,  # job
                    url,  # src_url
                    host,  # src_host
                    domain,  # src_domain
                    dst,  # dst_url
                    dst_host,  # dst_host
                    dst_domain,  # dst_domain
                    anchor,  # anchor
                    tag,  # tag
                    kind,  # type
                    nofollow,  # nofollow
                    ugc,  # ugc
                    sponsored,  # sponsored
                    page_nofollow,  # page_nofollow
                    when,  # fetched_at
                ),
            )
        )
    return page, links


def new_token() -> str:
    return uuid4().hex


@dataclass(slots=True)
class Batch:
    """The rows of some pages: inserted together, retried together, and acknowledged together
    in the frontier once stored. `token` is the batch's `insert_deduplication_token`: it stays
    with the batch through every retry and replay, so ClickHouse stores its rows once.

    A batch being built holds lists of rows; one handed over holds its rows as they arrived,
    Arrow columns read only when needed (crawler/columnar.py)."""

    pages: Sequence[PageRow] = field(default_factory=list)
    links: Sequence[LinkRow] = field(default_factory=list)
    fingerprints: list[str] = field(default_factory=list)  # the pages' frontier entries
    token: str = field(default_factory=new_token)

    def add(self, page: PageRow, links: Iterable[LinkRow], fingerprint: str) -> None:
        """One more fetch, with its links, in a batch being built."""
        assert isinstance(self.pages, list) and isinstance(self.links, list), "not being built"
        self.pages.append(page)
        self.links.extend(links)
        self.fingerprints.append(fingerprint)
