"""Several handed-over batches stored as one: one insert per table instead of one per batch.

Each insert costs the index owner a fixed part (a query pipeline, a part on disk per table and per
materialized view), and every part written is merged again later, more often the smaller it is.
So the coordinator (crawler/stream_consumer.py) stores the batches of one stream read together,
as one batch: with a backlog, a tenth of the inserts, and about half the CPU a page with the
merges (benchmarks/handoff.py). Without a backlog a read holds one batch, stored as it is.

A joined batch has a deduplication token of its own, derived from its batches' tokens (sorted:
the same batches give the same token in any order). It is retried, spooled and replayed as the
one batch it is, so it is stored once. What must not happen is the same rows inserted once
joined and once alone, under two tokens: crawler/stream_consumer.py records which stream entries
form a group before inserting it, and forms the same group again after a crash.

The Arrow streams are joined without decoding a row: the first stream's schema, then each
stream's dictionaries and record batch, as they are (a later dictionary replaces the one before,
as the Arrow IPC stream format allows). Only batches in this version's columns are joined.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.ipc as ipc

from crawler.columnar import LINK_SCHEMA, PAGE_SCHEMA, ArrowRows, arrow_stream
from crawler.rows import Batch, LinkRow, PageRow

_END_OF_STREAM = b"\xff\xff\xff\xff\x00\x00\x00\x00"
# Link rows of one joined insert at most: ten batches of the default LINKGRAPH_BATCH_ROWS, about
# 25 MB as ClickHouse's insert block. The crawl's hand-off and ingest-warc both group this far.
GROUP_ROWS = 200_000


Group = tuple[str, list[str]]  # a joined batch's token, and the stream entries it joins


@dataclass
class Plan:
    """How the entries of one stream read are recorded."""

    groups: list[Group] = field(default_factory=list)  # each stored as one batch
    singles: list[str] = field(default_factory=list)  # each stored alone, with its own token
    # Entries whose batch was recorded before, or comes earlier in the read (an XADD retried
    # after its reply was lost): only taken off the stream. Stored again alone, with its own
    # token, such a batch would add its rows again if the first copy went in a group.
    repeats: list[str] = field(default_factory=list)


def plan(
    batches: Mapping[str, Batch],
    recorded: set[str],
    max_rows: int,
    groups: list[Group] | None = None,
) -> Plan:
    """How to record `batches` (stream entry id -> batch, in stream order), given the tokens of
    the batches recorded before: the `groups` a coordinator recorded for them before it died
    (formed again as they were), else new ones of joinable batches, at most `max_rows` links
    each (0: none); a group of one is a single."""
    out = Plan(list(groups or []))
    claimed = set(recorded)
    grouped = {mid for _, ids in out.groups for mid in ids}
    claimed.update(batches[mid].token for mid in grouped if mid in batches)
    forming: list[list[str]] = [[]]
    rows = 0
    for mid, batch in batches.items():
        if mid in grouped:
            continue
        if batch.token in claimed:
            out.repeats.append(mid)
            continue
        claimed.add(batch.token)
        if groups is not None or max_rows <= 0 or not joinable(batch):
            out.singles.append(mid)
            continue
        if forming[-1] and rows + len(batch.links) > max_rows:
            forming.append([])
            rows = 0
        forming[-1].append(mid)
        rows += len(batch.links)
    for ids in forming:
        if len(ids) > 1:
            out.groups.append((group_token([batches[mid].token for mid in ids]), ids))
        else:
            out.singles += ids
    return out


def joinable(batch: Batch) -> bool:
    """A batch that arrived in Arrow columns, in this version's columns."""
    return (
        isinstance(batch.pages, ArrowRows)
        and isinstance(batch.links, ArrowRows)
        and _schema(batch.pages.stream).equals(PAGE_SCHEMA)
        and _schema(batch.links.stream).equals(LINK_SCHEMA)
    )


def group_token(tokens: Sequence[str]) -> str:
    """The token of a joined batch: the same for the same batches, whatever their order."""
    digest = hashlib.sha256("\n".join(sorted(tokens)).encode()).hexdigest()
    return f"joined-{digest[:32]}"


def joined(batches: Sequence[Batch], token: str) -> Batch:
    """The batches as one, with `token` (see `group_token`); each must be `joinable`."""
    pages = [b.pages for b in batches if isinstance(b.pages, ArrowRows)]
    links = [b.links for b in batches if isinstance(b.links, ArrowRows)]
    if len(pages) != len(batches) or len(links) != len(batches):
        raise ValueError("only batches that arrived in Arrow columns are joined")
    return Batch(
        ArrowRows(joined_stream(pages, PAGE_SCHEMA), PageRow, sum(r.length for r in pages)),
        ArrowRows(joined_stream(links, LINK_SCHEMA), LinkRow, sum(r.length for r in links)),
        [fp for b in batches for fp in b.fingerprints],
        token,
    )


def joined_stream(
    rows: Sequence[ArrowRows[PageRow] | ArrowRows[LinkRow]], schema: pa.Schema
) -> bytes:
    """The rows' Arrow IPC streams (all in `schema`) as one stream, copied message by message."""
    streams = [r.stream for r in rows if r.length]
    if len(streams) <= 1:
        return streams[0] if streams else arrow_stream([], schema)
    parts: list[bytes] = []
    for at, stream in enumerate(streams):
        for message in ipc.MessageReader.open_stream(pa.py_buffer(stream)):
            if message.type == "schema" and at:
                continue  # one schema, the first's: the streams all have it
            parts.append(message.serialize().to_pybytes())
    parts.append(_END_OF_STREAM)
    return b"".join(parts)


def _schema(stream: bytes) -> pa.Schema:
    return ipc.open_stream(stream).schema
