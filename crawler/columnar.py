"""Batches of rows as Arrow columns: how the hand-off (crawler/handoff.py) and the spool
(crawler/spool.py) carry them, and how they are inserted (crawler/sinks.py).

A batch is one byte string: a format byte, then a small JSON header (the batch's deduplication
token, its pages' frontier fingerprints, its row counts), then its `pages` and its `links` as two
Arrow IPC streams (LZ4-compressed, the columns each link repeats from its page as dictionaries;
several record batches, each with its dictionaries, once batches are joined: crawler/coalesce.py).
The index owner inserts the streams into ClickHouse as they arrived (`FORMAT ArrowStream`): no
link row is decoded in Python, and only `pages` is read back, for the frontier's counts.

A batch written before, as JSON (`[pages, links, fingerprints, token]`), starts with `[`: it is
still read, since a stream or a spool of an older version may hold one.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator, Sequence
from operator import itemgetter
from typing import Any, TypeVar, get_type_hints, overload

import pyarrow as pa
import pyarrow.ipc as ipc

from crawler.rows import TIME_COLUMN, Batch, LinkRow, PageRow, as_millis

COLUMNAR = b"\x01"  # the format byte of a batch in Arrow columns
JSON_FORMAT = b"["  # ... and the first byte of one in the JSON written before
_LENGTH = struct.Struct("<I")
_WRITE = ipc.IpcWriteOptions(compression="lz4")

# The tables' integer widths (deploy/clickhouse/): a value out of range fails when the batch is
# encoded, as it failed the driver's insert, instead of wrapping. Other integers are flags.
_WIDTHS = {
    "status": pa.uint16(),
    "bytes": pa.uint32(),
    "depth": pa.uint16(),
    "links": pa.uint32(),
    "warc_offset": pa.uint64(),
}
# Values every link of a page repeats: one dictionary entry per page instead of one per link.
_REPEATED = frozenset({"job", "src_url", "src_host", "src_domain"})


def _schema(row: type[PageRow] | type[LinkRow]) -> pa.Schema:
    types = get_type_hints(row)
    fields = []
    for name in row._fields:
        if name == TIME_COLUMN:
            kind = pa.timestamp("ms", tz="UTC")  # DateTime64(3, 'UTC') ticks
        elif types[name] is str:
            kind = pa.dictionary(pa.int32(), pa.string()) if name in _REPEATED else pa.string()
        else:
            kind = _WIDTHS.get(name, pa.uint8())
        fields.append(pa.field(name, kind, nullable=False))
    return pa.schema(fields)


PAGE_SCHEMA = _schema(PageRow)
LINK_SCHEMA = _schema(LinkRow)

R = TypeVar("R", PageRow, LinkRow)


class ArrowRows(Sequence[R]):
    """Rows as they arrived, an Arrow IPC stream: inserted as they are, and turned into row
    tuples only when something reads them (the frontier's counts read `pages`; a spooled
    batch cut down after an outage reads `links`)."""

    __slots__ = ("_rows", "length", "row", "stream")

    def __init__(self, stream: bytes, row: type[R], length: int) -> None:
        self.stream = stream
        self.row: type[R] = row
        self.length = length
        self._rows: list[R] | None = None

    def __len__(self) -> int:
        return self.length

    @overload
    def __getitem__(self, at: int) -> R: ...
    @overload
    def __getitem__(self, at: slice) -> list[R]: ...
    def __getitem__(self, at: int | slice) -> R | list[R]:
        return self.rows()[at]

    def __iter__(self) -> Iterator[R]:
        return iter(self.rows())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, ArrowRows) and other.stream == self.stream:
            return True
        if isinstance(other, Sequence) and not isinstance(other, (str, bytes)):
            return self.rows() == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"ArrowRows({self.row.__name__}, {self.length} rows, {len(self.stream)} bytes)"

    def rows(self) -> list[R]:
        if self._rows is None:
            table = ipc.open_stream(self.stream).read_all()
            columns = []
            for column in table.columns:
                if pa.types.is_timestamp(column.type):
                    column = column.cast(pa.int64())  # the ticks, as rows carry them
                columns.append(column.to_pylist())
            values = zip(*columns, strict=True)
            if tuple(table.column_names) == self.row._fields:
                self._rows = list(map(self.row._make, values))
            else:  # written before a later column: its default
                names = table.column_names
                self._rows = [self.row(**dict(zip(names, row, strict=True))) for row in values]
        return self._rows


def stream_columns(stream: bytes) -> list[str]:
    """The columns an Arrow IPC stream holds, in order (its schema, without reading its rows)."""
    return list(ipc.open_stream(stream).schema.names)


def arrow_stream(rows: Sequence[Sequence[Any]], schema: pa.Schema) -> bytes:
    """Rows (tuples in the schema's column order) as one Arrow IPC stream; rows that arrived as
    one are passed on as they are."""
    if isinstance(rows, ArrowRows):
        return rows.stream
    if rows and set(map(len, rows)) != {len(schema)}:
        raise ValueError(f"rows of {len(schema)} columns expected: {schema.names}")
    arrays = []
    for at, kind in enumerate(schema):
        values = list(map(itemgetter(at), rows))  # a column: 4x faster than zip(*rows)
        if kind.name == TIME_COLUMN:
            values = list(as_millis(tuple(values)))
        arrays.append(pa.array(values, kind.type))  # a dictionary built as it reads: no copy
    return record_stream(pa.RecordBatch.from_arrays(arrays, schema=schema))


def record_stream(batch: pa.RecordBatch) -> bytes:
    """One record batch as an Arrow IPC stream, compressed as every batch is."""
    out = pa.BufferOutputStream()
    with ipc.new_stream(out, batch.schema, options=_WRITE) as writer:
        writer.write_batch(batch)
    return bytes(out.getvalue())


def encode(batch: Batch) -> bytes:
    head = json.dumps(
        {
            "token": batch.token,
            "fingerprints": batch.fingerprints,
            "pages": len(batch.pages),
            "links": len(batch.links),
        },
        separators=(",", ":"),
    ).encode()
    pages = arrow_stream(batch.pages, PAGE_SCHEMA)
    links = arrow_stream(batch.links, LINK_SCHEMA)
    return b"".join(
        (COLUMNAR, _LENGTH.pack(len(head)), head, _LENGTH.pack(len(pages)), pages, links)
    )


def decode(payload: bytes | str, token: str) -> Batch:
    """A batch as `encode` wrote it, or in the JSON written before (where `token` names one
    written before batches carried their own)."""
    data = payload.encode() if isinstance(payload, str) else bytes(payload)
    kind = data[:1]
    if kind == JSON_FORMAT:
        return _decode_json(data, token)
    if kind != COLUMNAR:
        raise ValueError(f"not a batch of rows: it starts with {data[:8]!r}")
    at = 1 + _LENGTH.size
    (size,) = _LENGTH.unpack_from(data, 1)
    head = json.loads(data[at : at + size])
    at += size
    (size,) = _LENGTH.unpack_from(data, at)
    at += _LENGTH.size
    return Batch(
        ArrowRows(data[at : at + size], PageRow, head["pages"]),
        ArrowRows(data[at + size :], LinkRow, head["links"]),
        head["fingerprints"],
        head["token"],
    )


def _decode_json(data: bytes, token: str) -> Batch:
    pages, links, fingerprints, *carried = json.loads(data)
    return Batch(
        [PageRow(*row) for row in pages],  # a row written before a later column: its default
        [LinkRow(*row) for row in links],
        fingerprints,
        carried[0] if carried else token,
    )
