"""Reads the HTTP records of a WARC file (ours, other tools', Common Crawl's, WAT files too):
one function, `http_records`, whatever reader is behind it.

It yields what a fetch of a page received (`Fetched`: response and revisit records as stored,
and WAT records' links) and, for anything it cannot use, a `Skipped` with a one-line reason; it
never raises for a bad file. FastWARC reads while the file is sound (about 3x faster than warcio
on the bench web's pages); warcio takes over where FastWARC stops, to say why (a bad gzip member,
a truncated file) and to read on at the next member, and reads ARC files. The HTTP head is
parsed here, so a broken one costs only its record.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import BinaryIO

from fastwarc.warc import ArchiveIterator as FastIterator
from fastwarc.warc import WarcRecordType
from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed

from crawler.warc.http import (
    BrokenHttp,
    Fetched,
    Skipped,
    chunked,
    dechunk,
    parse_head,
    parse_warc_date,
)
from crawler.warc.wat import wat_page

PAGE_TYPES = frozenset({"response", "revisit"})
_FAST_TYPES = WarcRecordType.response | WarcRecordType.revisit | WarcRecordType.metadata
# Headers of a response that no longer describe the body rebuilt from a WAT record
_WAT_DROPPED = frozenset({"content-encoding", "transfer-encoding", "content-length"})
GZIP_MAGIC = b"\x1f\x8b\x08"
WAT_OTHER = "WAT record about no response"  # requests, warcinfo: skipped without a word
_SCAN_BYTES = 1 << 20


def http_records(path: Path, max_record_bytes: int) -> Iterator[Fetched | Skipped]:
    """Every response, revisit and WAT record of the file, or why one was skipped. Other record
    types (warcinfo, request, metadata...) are passed over without a word.

    FastWARC reads the file as long as it can (about 3x faster than warcio); from the last
    record it read, warcio reads on: at the end of a sound file that is one record again, and
    where FastWARC stopped early (a bad member, a truncated file, ARC), warcio says why and
    reads on at the next gzip member."""
    with path.open("rb") as stream:
        size = stream.seek(0, 2)
        known_format = _format(stream)
        stream.seek(0)
        position, done = yield from _fast(stream, max_record_bytes)
        while position < size:
            stream.seek(position)
            failed_at = yield from _read_from(stream, max_record_bytes, done, known_format)
            done = -1
            if failed_at is None:
                return
            offset, reason = failed_at
            if offset >= size:
                return
            if not reason:  # the reader stopped quietly before the end of the file
                yield Skipped(offset, "", "truncated file", f"{size - offset} bytes left unread")
                return
            following = _next_member(stream, offset + 1, size)
            if following is None:
                yield Skipped(offset, "", "unreadable record", f"{reason}; nothing after it")
                return
            yield Skipped(offset, "", "unreadable record", f"{reason}; read on at {following}")
            position = following


def _fast(
    stream: BinaryIO, max_record_bytes: int
) -> Generator[Fetched | Skipped, None, tuple[int, int]]:
    """Records read by FastWARC; returns the offset of the last one it read (where warcio goes
    on) and of the last one yielded (-1: none)."""
    last, done = 0, -1
    try:
        for record in FastIterator(stream, record_types=_FAST_TYPES, parse_http=False):
            last = record.stream_pos
            fields = dict(record.headers.items())
            kind = fields.get("WARC-Type", "")
            if kind in PAGE_TYPES or (kind == "metadata" and _json_type(fields)):
                yield _fetched(fields, kind, last, max_record_bytes, record.reader.read)
                done = last
    except Exception:  # whatever FastWARC stops on, warcio reads it again and says why
        pass
    return last, done


def _format(stream: BinaryIO) -> str | None:
    """`"warc"` when the first record of the file is a WARC record; None for ARC files and others.

    warcio, told nothing, reads any line of five words as an ARC header: in a damaged WARC file
    the bytes of a broken gzip member can read as one, and a record of garbage then swallows the
    sound records after it. Told "warc", it stops there, and the next member is found."""
    return "warc" if _head(stream, 0).startswith(b"WARC/") else None


def _read_from(
    stream: BinaryIO, max_record_bytes: int, done: int = -1, known_format: str | None = None
) -> Generator[Fetched | Skipped, None, tuple[int, str] | None]:
    """Records from the stream's position (but the one at `done`, already read); returns where
    reading stopped and why ("" when the reader simply found no more records there)."""
    records = ArchiveIterator(stream, no_record_parse=True, arc2warc=True)
    records.known_format = known_format  # kept: arc2warc leaves it as it is set here
    try:
        for record in records:
            kind = record.rec_type
            offset = records.offset
            fields = dict(record.rec_headers.headers)
            if offset != done and (
                kind in PAGE_TYPES or (kind == "metadata" and _json_type(fields))
            ):
                yield _fetched(fields, kind, offset, max_record_bytes, record.raw_stream.read)
    except (ArchiveLoadFailed, zlib.error, EOFError, OSError, ValueError) as exc:
        return records.offset, _one_line(exc)
    return records.offset, ""


def _one_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    text = text.encode("ascii", "backslashreplace").decode("ascii")
    return text[:100] + ("..." if len(text) > 100 else "")


def _fetched(
    fields: dict[str, str], kind: str, offset: int, max_bytes: int, read: Callable[[int], bytes]
) -> Fetched | Skipped:
    url = fields.get("WARC-Target-URI", "").strip().strip("<>")
    if not url.lower().startswith(("http://", "https://")):
        return Skipped(offset, url, "not an HTTP record", url.split(":", 1)[0] or "no URI")
    length = int(fields.get("Content-Length", "0") or 0)
    if length > max_bytes:
        return Skipped(offset, url, "record over the size limit", f"{length} > {max_bytes} bytes")
    block = read(length + 1)
    if len(block) < length:
        return Skipped(offset, url, "truncated record", f"{len(block)} of {length} bytes")
    if kind == "metadata":
        return _wat(fields, url, offset, block[:length])
    try:
        date = parse_warc_date(fields.get("WARC-Date", ""))
        if kind == "revisit" and not block[:length].strip():
            # no HTTP head stored: the original's status and headers apply
            return Fetched(kind, url, date, fields.get("WARC-Record-ID", ""), offset, 0, [],
                           b"", b"", fields)  # fmt: skip
        status, headers, body_at = parse_head(block[:length])
    except BrokenHttp as exc:
        return Skipped(offset, url, "broken HTTP", str(exc))
    except ValueError:
        return Skipped(offset, url, "bad WARC-Date", repr(fields.get("WARC-Date", "")[:40]))
    body = block[body_at:length]
    if chunked(headers):
        body = dechunk(body)
    record_id = fields.get("WARC-Record-ID", "")
    head = block[:body_at]
    return Fetched(kind, url, date, record_id, offset, status, headers, body, head, fields)


def _json_type(fields: dict[str, str]) -> bool:
    kind = fields.get("Content-Type", "")
    return kind.split(";")[0].strip().lower() == "application/json"


def _wat(fields: dict[str, str], url: str, offset: int, block: bytes) -> Fetched | Skipped:
    """A WAT record about a response, as a Fetched whose body is its links (crawler/warc/wat.py);
    a WAT record about anything else is passed over in silence."""
    try:
        page = wat_page(block)
        if page is None:
            return Skipped(offset, url, WAT_OTHER)
        status, headers, document, length = page
        envelope = json.loads(block)["Envelope"]["WARC-Header-Metadata"]
        date = parse_warc_date(envelope.get("WARC-Date") or fields.get("WARC-Date", ""))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        return Skipped(offset, url, "broken WAT record", _one_line(exc))
    kept = []
    for name, value in headers:
        if name.lower() == "content-type":  # the document rebuilt is UTF-8, whatever the page was
            value = value.split(";", 1)[0] + "; charset=utf-8"
        if name.lower() not in _WAT_DROPPED:
            kept.append((name, value))
    record_id = envelope.get("WARC-Record-ID", "")
    return Fetched("wat", url, date, record_id, offset, status, kept, document, b"", fields, length)


def _next_member(stream: BinaryIO, after: int, size: int) -> int | None:
    """Offset of the next gzip member that starts a WARC record, after `after`."""
    position = after
    while position < size:
        stream.seek(position)
        chunk = stream.read(_SCAN_BYTES + len(GZIP_MAGIC))
        found = chunk.find(GZIP_MAGIC)
        while found >= 0:
            candidate = position + found
            if _starts_record(stream, candidate):
                return candidate
            found = chunk.find(GZIP_MAGIC, found + 1)
        position += _SCAN_BYTES
    return None


def _starts_record(stream: BinaryIO, offset: int) -> bool:
    return _head(stream, offset).startswith(b"WARC/")


def _head(stream: BinaryIO, offset: int) -> bytes:
    """The first bytes of the record at `offset`, decompressed if it is a gzip member."""
    stream.seek(offset)
    head = stream.read(64 * 1024)
    if not head.startswith(GZIP_MAGIC):
        return head[:16]
    try:
        return zlib.decompressobj(zlib.MAX_WBITS + 16).decompress(head, 16)
    except zlib.error:
        return b""


def read_record_at(path: Path, offset: int, max_record_bytes: int) -> Fetched | Skipped | None:
    """The response or revisit record at `offset` (None for another record type)."""
    with path.open("rb") as stream:
        stream.seek(offset)
        records = ArchiveIterator(stream, no_record_parse=True, arc2warc=True)
        for record in records:
            if record.rec_type not in PAGE_TYPES:
                return None
            fields = dict(record.rec_headers.headers)
            return _fetched(
                fields, record.rec_type, offset, max_record_bytes, record.raw_stream.read
            )
    return None
