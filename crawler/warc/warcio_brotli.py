"""Lets warcio read `Content-Encoding: br` again.

warcio 1.8.1 registers a br decoder written for brotlipy: it sets `unused_data` on a
`brotli.Decompressor`, which Google's brotli 1.2 (the one Scrapy needs) does not allow, so
every br response fails to decode (`warcio check` and `content_stream()` raise AttributeError).
`install()` registers a decoder with the interface warcio expects instead. ingest-warc needs
none of this (it decodes as the crawl does, crawler/warc/pages.py); it is for reading our WARC
files with warcio's own tools: `python -m crawler.warc.warcio_brotli check FILE...` is
`warcio check` with br fixed.
"""

from __future__ import annotations

import sys

import brotli
from warcio.bufferedreaders import BufferedReader


class BrotliDecoder:
    """brotli.Decompressor with the attributes warcio reads."""

    def __init__(self) -> None:
        self._decompressor = brotli.Decompressor()
        self.unused_data = b""  # a br stream ends the record: nothing is ever left over

    def decompress(self, data: bytes) -> bytes:
        return bytes(self._decompressor.process(data))


def install() -> None:
    BufferedReader.DECOMPRESSORS["br"] = BrotliDecoder


if __name__ == "__main__":
    from warcio.cli import main

    install()
    sys.exit(main(sys.argv[1:]))
