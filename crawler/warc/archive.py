"""A crawler's WARC archive: its files, and the payload digests the job has archived.

The capture middleware writes every fetch here, and the WARC pipeline the outlinks of each page;
both reach the one archive of their crawler through `archive_for`. Digests live in the
frontier's Redis, so a payload archived by any worker of the job is stored once, and every
later fetch of it becomes a `revisit` record that refers to that first one.
"""

from __future__ import annotations

import json
import socket
from dataclasses import asdict
from io import BytesIO
from pathlib import Path
from typing import TYPE_CHECKING

from scrapy import signals

from crawler import ROBOTS_TOKEN, USER_AGENT, __version__
from crawler.frontier import frontier_for
from crawler.items import Archived
from crawler.warc.capture import (
    Exchange,
    FailedFetch,
    Original,
    exchange_records,
    failure_record,
    payload_digest,
    warc_date,
)
from crawler.warc.files import WarcFiles

if TYPE_CHECKING:
    import redis
    from scrapy.crawler import Crawler

_ATTRIBUTE = "_linkgraph_warc_archive"


class Archive:
    def __init__(self, files: WarcFiles, client: redis.Redis, digests_key: str) -> None:
        self.files = files
        self.client = client
        self.digests_key = digests_key  # hash: payload digest -> the Original, as JSON

    def _original(self, digest: str) -> Original | None:
        saved = self.client.hget(self.digests_key, digest)
        return Original(**json.loads(saved)) if saved else None

    def record(self, exchange: Exchange, extra: dict[str, str]) -> Archived:
        """Archive one fetch; where its response (or revisit) record went."""
        key = payload_digest(exchange.body) if exchange.body else ""
        original = self._original(key) if key and not exchange.truncated else None
        request, response = exchange_records(self.files.builder, exchange, original, extra)
        _, written = self.files.write(request, response)
        record_id = response.rec_headers.get_header("WARC-Record-ID")
        if key and original is None and not exchange.truncated:
            first = Original(
                exchange.url,
                response.rec_headers.get_header("WARC-Date"),
                record_id,
                response.rec_headers.get_header("WARC-Payload-Digest"),
            )
            self.client.hsetnx(self.digests_key, key, json.dumps(asdict(first)))
        return Archived(written.path, written.offset, record_id, exchange.fetched_at)

    def record_failure(self, failed: FailedFetch, extra: dict[str, str]) -> None:
        """A `metadata` record of a fetch that ended without a response."""
        self.files.write(failure_record(self.files.builder, failed, extra))

    def record_outlinks(self, url: str, archived: Archived, outlinks: list[str]) -> None:
        """A `metadata` record listing a page's outlinks, referring to its response."""
        body = "".join(f"outlink: {link}\n" for link in outlinks).encode("utf-8")
        record = self.files.builder.create_warc_record(
            url,
            "metadata",
            payload=BytesIO(body),
            length=len(body),
            warc_content_type="application/warc-fields",
            warc_headers_dict={
                "WARC-Date": warc_date(archived.fetched_at),
                "WARC-Refers-To": archived.record_id,
                "WARC-Concurrent-To": archived.record_id,
            },
        )
        self.files.write(record)

    def close(self) -> None:
        self.files.close()


def archive_for(crawler: Crawler) -> Archive:
    """The crawler's archive, built on first use and closed (CDXJ written) with the spider."""
    archive: Archive | None = getattr(crawler, _ATTRIBUTE, None)
    if archive is not None:
        return archive
    s = crawler.settings
    job = s["LINKGRAPH_JOB"]
    info = {
        "software": f"linkgraph/{__version__}",
        "format": "WARC File Format 1.1",
        "conformsTo": "https://iipc.github.io/warc-specifications/specifications/"
        "warc-format/warc-1.1/",
        "isPartOf": job,
        "hostname": socket.gethostname(),
        "http-header-user-agent": s.get("USER_AGENT") or USER_AGENT,
        "robots": f"obey (RFC 9309, as {ROBOTS_TOKEN})",
    }
    if s.get("LINKGRAPH_WARC_OPERATOR"):
        info["operator"] = s["LINKGRAPH_WARC_OPERATOR"]
    files = WarcFiles(
        Path(s["LINKGRAPH_WARC_DIR"]).resolve(),
        f"linkgraph-{job}",
        max_bytes=s.getint("LINKGRAPH_WARC_MAX_BYTES"),
        gzip_level=s.getint("LINKGRAPH_WARC_GZIP_LEVEL"),
        info=info,
    )
    frontier = frontier_for(crawler)
    archive = Archive(files, frontier.client, frontier.keys.base + "warc:digests")
    setattr(crawler, _ATTRIBUTE, archive)
    crawler.signals.connect(archive.close, signal=signals.spider_closed)
    return archive
