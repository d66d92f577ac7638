"""An HTTP response as a WARC record stores it: the record (`Fetched`) or why it was skipped
(`Skipped`), and the parsing of its head and chunked body, for crawler/warc/reader.py."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone

MAX_HEAD_BYTES = 256 * 1024  # an HTTP head longer than this is broken
# The blank line that ends an HTTP head: CRLF CRLF, or the bare LFs (and stray CRs) of some tools
_BLANK_LINE = re.compile(rb"\n\r*\n")


@dataclass(slots=True)
class Fetched:
    """A response (or revisit) record: the HTTP message as stored, and where it is."""

    kind: str  # "response", "revisit" or "wat"
    url: str  # WARC-Target-URI as written
    date: float  # WARC-Date, unix seconds (to the microsecond)
    record_id: str
    offset: int
    status: int
    headers: list[tuple[str, str]]
    body: bytes  # as stored: Content-Encoding kept, chunked transfer undone
    head: bytes = b""  # the HTTP status line and headers as stored, blank line included
    fields: dict[str, str] = field(default_factory=dict)  # the WARC fields
    entity_length: int = -1  # the page's size, when `body` is not the page (a WAT's links)


@dataclass(slots=True, frozen=True)
class Skipped:
    offset: int
    url: str
    reason: str  # what went wrong, the same words for every record it happens to
    detail: str = ""  # this record's particulars


def parse_warc_date(text: str) -> float:
    text = text.strip().replace("Z", "+00:00")
    when = datetime.fromisoformat(text)
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    delta = when - datetime(1970, 1, 1, tzinfo=timezone.utc)
    micros = (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds
    return micros / 1_000_000


class BrokenHttp(ValueError):
    pass


def parse_head(block: bytes) -> tuple[int, list[tuple[str, str]], int]:
    """(status, headers, offset of the body) of an HTTP response block."""
    blank = _BLANK_LINE.search(block, 0, MAX_HEAD_BYTES)
    if blank is None:
        raise BrokenHttp("no end of the HTTP head")
    lines = [line.rstrip("\r") for line in block[: blank.start()].decode("latin-1").split("\n")]
    status_line = lines[0].split(None, 2)
    if len(status_line) < 2 or not status_line[0].upper().startswith("HTTP/"):
        raise BrokenHttp(f"not an HTTP status line: {lines[0][:80]!r}")
    if not (status_line[1].isdigit() and len(status_line[1]) == 3):
        raise BrokenHttp(f"bad status code {status_line[1][:20]!r}")
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        if line[:1] in (" ", "\t") and headers:  # obsolete line folding
            name, value = headers[-1]
            headers[-1] = (name, f"{value} {line.strip()}")
            continue
        name, colon, value = line.partition(":")
        if not colon:
            continue  # skipped, as a crawl's parser (Scrapy's) and browsers skip it
        if not name.strip():
            raise BrokenHttp(f"bad header line {line[:80]!r}")
        headers.append((name.strip(), value.strip()))
    return int(status_line[1]), headers, blank.end()


def dechunk(body: bytes) -> bytes:
    """A chunked body's content; the body itself when it is not validly chunked."""
    out, pos = bytearray(), 0
    while True:
        eol = body.find(b"\r\n", pos)
        if eol < 0:
            return body
        try:
            size = int(body[pos:eol].split(b";", 1)[0].strip(), 16)
        except ValueError:
            return body
        if size == 0:
            return bytes(out)
        start = eol + 2
        if start + size > len(body):
            return body
        out += body[start : start + size]
        pos = start + size + 2


def chunked(headers: list[tuple[str, str]]) -> bool:
    return any(k.lower() == "transfer-encoding" and "chunked" in v.lower() for k, v in headers)
