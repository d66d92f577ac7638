"""The WARC files of one process: WARC 1.1 through warcio, gzipped one record per member,
rotated at a size, each with a warcinfo record first and a CDXJ index beside it once closed.

Names follow the Heritrix convention, prefix-timestamp-serial-host-pid.warc.gz, so files of
several processes and hosts never collide and sort by time. warcio gzips at level 9, which costs
about a millisecond a page; here each record is serialised plain and compressed at the level the
operator chose, one gzip member per record, so a record can be read from its offset alone.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import zlib
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import BinaryIO

from warcio.recordbuilder import RecordBuilder
from warcio.warcwriter import WARCWriter

logger = logging.getLogger(__name__)

WARC_VERSION = "1.1"


@dataclass(frozen=True, slots=True)
class Written:
    """Where a record went: its file and the offset of its gzip member."""

    path: str
    offset: int


def build_records() -> RecordBuilder:
    return RecordBuilder(warc_version=WARC_VERSION)


class WarcFiles:
    """Appends records to the current file; a record that would take it past `max_bytes` goes
    to a new one (a file holds at least one record, whatever its size)."""

    def __init__(
        self,
        directory: Path,
        prefix: str,
        *,
        max_bytes: int,
        gzip_level: int,
        info: dict[str, str],
        cdxj: bool = True,
    ) -> None:
        self.directory = directory
        self.prefix = prefix
        self.max_bytes = max_bytes
        self.gzip_level = gzip_level
        self.info = info
        self.cdxj = cdxj
        self.builder = build_records()
        self.closed: list[Path] = []
        self._serial = 0
        self._host = socket.gethostname().split(".")[0] or "localhost"
        self._path: Path | None = None
        self._file: BinaryIO | None = None
        self._serialiser = WARCWriter(BytesIO(), gzip=False, warc_version=WARC_VERSION)
        # Indexing a 1 GB file takes a while: off the crawl's thread, one file at a time.
        self._indexer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cdxj")
        self._indexing: list[Future[Path]] = []

    def _name(self) -> str:
        stamp = time.strftime("%Y%m%d%H%M%S", time.gmtime())
        return f"{self.prefix}-{stamp}-{self._serial:05d}-{self._host}-{os.getpid()}.warc.gz"

    def _open(self) -> BinaryIO:
        self.directory.mkdir(parents=True, exist_ok=True)
        self._path = self.directory / self._name()
        self._serial += 1
        self._file = self._path.open("xb")
        info = self.builder.create_warcinfo_record(self._path.name, self.info)
        self._file.write(self._compress(info))
        return self._file

    def _compress(self, record: object) -> bytes:
        plain = BytesIO()
        self._serialiser.out = plain
        self._serialiser.write_record(record)
        gzip = zlib.compressobj(self.gzip_level, zlib.DEFLATED, zlib.MAX_WBITS + 16)
        return gzip.compress(plain.getvalue()) + gzip.flush()

    def write(self, *records: object) -> list[Written]:
        """Write records one after the other into one file (a request with its response stays
        together); returns where each went."""
        members = [self._compress(record) for record in records]
        size = sum(len(m) for m in members)
        out = self._file
        if out is not None and out.tell() > 0 and out.tell() + size > self.max_bytes:
            self.close_file()
            out = None
        if out is None:
            out = self._open()
        assert self._path is not None
        where = []
        for member in members:
            where.append(Written(str(self._path), out.tell()))
            out.write(member)
        return where

    def close_file(self) -> None:
        if self._file is None or self._path is None:
            return
        self._file.close()
        self._file = None
        self.closed.append(self._path)
        if self.cdxj:
            self._indexing.append(self._indexer.submit(write_cdxj, self._path))

    def close(self) -> None:
        """Close the current file and wait until every CDXJ index is written."""
        self.close_file()
        self._indexer.shutdown(wait=True)
        for done in self._indexing:
            try:
                done.result()
            except Exception as exc:  # the archive is complete without it: say so, go on
                logger.error("cannot write the CDXJ index of a WARC file: %s", exc)


def cdxj_path(warc: Path) -> Path:
    return warc.with_name(warc.name.removesuffix(".gz").removesuffix(".warc") + ".cdxj")


def write_cdxj(warc: Path) -> Path:
    """The CDXJ index of a closed file, beside it, by cdxj-indexer (pywb's format, sorted)."""
    from cdxj_indexer.main import write_cdx_index

    target = cdxj_path(warc)
    with target.open("w") as out:
        write_cdx_index(out, [str(warc)], {"sort": True})
    return target
