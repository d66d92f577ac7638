"""Archives every response as a WARC `response` record (gzip), when a WARC directory is set.

One file per process and job, so several workers never write into one file.
"""

from __future__ import annotations

import os
import time
from io import BytesIO
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from scrapy.exceptions import NotConfigured
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from crawler.items import PageItem

if TYPE_CHECKING:
    from scrapy.crawler import Crawler


class WarcPipeline:
    def __init__(self, directory: Path, job: str) -> None:
        self.path = (
            directory / f"linkgraph-{job}-{time.strftime('%Y%m%d%H%M%S')}-{os.getpid()}.warc.gz"
        )
        self._file: BinaryIO | None = None
        self._writer: WARCWriter | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> WarcPipeline:
        directory = crawler.settings.get("LINKGRAPH_WARC_DIR")
        if not directory:
            raise NotConfigured  # silently: archiving is opt-in
        return cls(Path(directory), crawler.settings["LINKGRAPH_JOB"])

    def open_spider(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = self.path.open("wb")
        self._writer = WARCWriter(self._file, gzip=True)

    def close_spider(self) -> None:
        if self._file is not None:
            self._file.close()

    def process_item(self, item: PageItem) -> PageItem:
        if item.error or self._writer is None:
            return item  # nothing was received, so there is nothing to archive
        headers = [
            (name.title(), value)
            for name, values in item.headers.items()
            for value in values.split("\n")
        ]
        http_headers = StatusAndHeaders(str(item.status), headers, protocol="HTTP/1.1")
        record = self._writer.create_warc_record(
            item.url,
            "response",
            payload=BytesIO(item.body),
            length=len(item.body),
            http_headers=http_headers,
            warc_headers_dict={
                "WARC-Date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(item.fetched_at))
            },
        )
        self._writer.write_record(record)
        return item
