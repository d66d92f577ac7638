"""WARC records of one fetch, from what was sent and received: a `request` and a `response` (or,
for a payload already archived in the job, a `revisit`) linked by WARC-Concurrent-To.

The response is taken before Scrapy decompresses anything: the status line and headers byte for
byte as the download handler received them (crawler/downloader.py: the reason phrase, the
spelling and order of names, Connection and Transfer-Encoding included), and the body with its
Content-Encoding as it came. Twisted has already undone a chunked Transfer-Encoding and keeps
no chunk sizes, so such a body is stored as one chunk: the message stays what its headers say
it is, and readers that dechunk (warcio, pywb, jwarc) get the body back. Common Crawl stores the
body dechunked and renames the header instead (X-Crawler-Transfer-Encoding); that would not be
the head as received. Without the head (another download handler), the fields come from
Scrapy's headers and the status line gets the standard reason phrase.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from http import HTTPStatus
from io import BytesIO
from typing import Any
from urllib.parse import urlsplit

from warcio.recordbuilder import RecordBuilder
from warcio.statusandheaders import StatusAndHeaders

# Extension fields (WARC 1.1 section 5 allows them) that let ingest-warc rebuild the index
# exactly: a page's link depth, and a fetch made for robots.txt rather than as a page.
DEPTH_FIELD = "WARC-Linkgraph-Depth"
PREREQUISITE_FIELD = "WARC-Linkgraph-Prerequisite"
# ... and a response of a URL the job had registered as a sitemap (named by a robots.txt, an
# index or --seed-sitemaps): ingest-warc reads it as one whatever file that robots.txt is in.
SITEMAP_FIELD = "WARC-Linkgraph-Sitemap"
# Sent by the proxy middleware: a credential, never archived.
UNARCHIVED_REQUEST_HEADERS = frozenset({"proxy-authorization"})
_EPOCH = datetime(1970, 1, 1)


@dataclass(frozen=True, slots=True)
class Original:
    """A payload already archived: what a revisit record of it refers to."""

    uri: str
    date: str
    record_id: str
    digest: str


@dataclass(frozen=True, slots=True)
class Exchange:
    """One fetch as it went over the wire (header names and values as bytes)."""

    method: str
    url: str
    request_headers: list[tuple[bytes, bytes]]
    status: int
    protocol: str
    response_headers: list[tuple[bytes, bytes]]
    body: bytes
    ip_address: str
    fetched_at: float
    truncated: bool = False
    # The status line and headers as received, blank line included; b"" = not known
    response_head: bytes = b""


class ReceivedHead(StatusAndHeaders):
    """An HTTP head that warcio writes as `raw`, the bytes received, rather than rendering its
    parsed fields again (which would change spacing, line ends and what does not parse)."""

    def __init__(self, raw: bytes, headers: list[tuple[str, str]]) -> None:
        first = raw.split(b"\n", 1)[0].rstrip(b"\r").decode("latin-1")
        protocol, _, statusline = first.partition(" ")
        super().__init__(statusline, headers, protocol=protocol)
        self.raw = raw

    def compute_headers_buffer(self, header_filter: Any = None) -> None:
        self.headers_buff = self.raw


def received_fields(head: bytes) -> list[tuple[bytes, bytes]]:
    """The header fields of a head as received, read as Scrapy's lenient parser reads them
    (a line without a colon is skipped, a continuation line joins the field before it)."""
    fields: list[tuple[bytes, bytes]] = []
    for line in head.split(b"\n")[1:]:
        line = line.rstrip(b"\r")
        if line[:1] in (b" ", b"\t") and fields:
            name, value = fields[-1]
            fields[-1] = (name, value + b" " + line.strip())
        elif b":" in line:
            name, _, value = line.partition(b":")
            fields.append((name.strip(), value.strip()))
    return fields


@dataclass(frozen=True, slots=True)
class FailedFetch:
    """A fetch that ended without a response."""

    method: str
    url: str
    reason: str  # as the page is recorded with (crawler/failures.py)
    error: str  # the exception, for the operator
    failed_at: float


# Heritrix's fetch status codes (FetchStatusCodes, crawl.log) for the failures that have one,
# so that tools reading Heritrix's logs read these records too.
HERITRIX_CODES = {
    "dns": -1,
    "dns: no such name": -1,
    "connection refused": -2,
    "connection lost": -3,
    "timeout": -4,
    "refused: non-public address": -5001,  # blocked from fetch by an operator's setting
}


def warc_date(unix_seconds: float) -> str:
    """WARC 1.1 date with microseconds, exact for `unix_seconds` rounded to the microsecond."""
    when = _EPOCH + timedelta(microseconds=round(unix_seconds * 1_000_000))
    return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def payload_digest(body: bytes) -> str:
    return "sha1:" + base64.b32encode(hashlib.sha1(body).digest()).decode("ascii")


def _text(value: bytes) -> str:
    return value.decode("latin-1")


def _chunked(headers: list[tuple[bytes, bytes]]) -> bool:
    return any(
        name.lower() == b"transfer-encoding" and b"chunked" in value.lower()
        for name, value in headers
    )


def request_headers(exchange: Exchange) -> StatusAndHeaders:
    parts = urlsplit(exchange.url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    names = {name.lower() for name, _ in exchange.request_headers}
    headers = [] if b"host" in names else [("Host", parts.netloc)]
    headers += [
        (_text(name), _text(value))
        for name, value in exchange.request_headers
        if _text(name).lower() not in UNARCHIVED_REQUEST_HEADERS
    ]
    return StatusAndHeaders(
        f"{exchange.method} {target} {exchange.protocol}", headers, is_http_request=True
    )


def response_headers(exchange: Exchange) -> StatusAndHeaders:
    if exchange.response_head:
        fields = received_fields(exchange.response_head)
        return ReceivedHead(exchange.response_head, [(_text(k), _text(v)) for k, v in fields])
    try:
        reason = HTTPStatus(exchange.status).phrase
    except ValueError:
        reason = ""
    statusline = f"{exchange.status} {reason}".rstrip()
    headers = [(_text(name), _text(value)) for name, value in exchange.response_headers]
    return StatusAndHeaders(statusline, headers, protocol=exchange.protocol)


def wire_body(exchange: Exchange) -> bytes:
    """The body as its headers describe it (one chunk when the transfer was chunked)."""
    if not _chunked(received_fields(exchange.response_head) or exchange.response_headers):
        return exchange.body
    size = b"%x\r\n" % len(exchange.body)
    return size + exchange.body + b"\r\n0\r\n\r\n" if exchange.body else b"0\r\n\r\n"


def exchange_records(
    builder: RecordBuilder,
    exchange: Exchange,
    original: Original | None,
    extra: dict[str, str],
) -> tuple[Any, Any]:
    """The (request, response-or-revisit) pair of one fetch. `extra`: more WARC fields for the
    response record."""
    date = warc_date(exchange.fetched_at)
    fields = {"WARC-Date": date, **extra}
    if exchange.ip_address:
        fields["WARC-IP-Address"] = exchange.ip_address
    if exchange.truncated:
        fields["WARC-Truncated"] = "length"
    http = response_headers(exchange)
    if original is not None:
        response = builder.create_revisit_record(
            exchange.url,
            original.digest,
            original.uri,
            original.date,
            http_headers=http,
            warc_headers_dict={**fields, "WARC-Refers-To": original.record_id},
        )
    else:
        body = wire_body(exchange)
        response = builder.create_warc_record(
            exchange.url,
            "response",
            payload=BytesIO(body),
            length=len(body),
            http_headers=http,
            warc_headers_dict=fields,
        )
    request_fields = {"WARC-Date": date}
    if exchange.ip_address:
        request_fields["WARC-IP-Address"] = exchange.ip_address
    request_fields["WARC-Concurrent-To"] = response.rec_headers.get_header("WARC-Record-ID")
    request = builder.create_warc_record(
        exchange.url,
        "request",
        payload=BytesIO(b""),
        length=0,
        http_headers=request_headers(exchange),
        warc_headers_dict=request_fields,
    )
    return request, response


def failure_record(builder: RecordBuilder, failed: FailedFetch, extra: dict[str, str]) -> Any:
    """A `metadata` record (application/warc-fields) saying that `failed.url` was attempted and
    how it failed. Heritrix and Browsertrix keep failures in their logs only (crawl.log,
    pages.jsonl), outside the WARC files: here the archive alone says every URL tried."""
    lines = [f"fetch-error: {failed.reason}", f"method: {failed.method}"]
    if failed.reason in HERITRIX_CODES:
        lines.append(f"heritrix-fetch-status: {HERITRIX_CODES[failed.reason]}")
    lines.append(f"exception: {' '.join(failed.error.split())}")
    body = "".join(f"{line}\r\n" for line in lines).encode("utf-8")
    return builder.create_warc_record(
        failed.url,
        "metadata",
        payload=BytesIO(body),
        length=len(body),
        warc_content_type="application/warc-fields",
        warc_headers_dict={"WARC-Date": warc_date(failed.failed_at), **extra},
    )
