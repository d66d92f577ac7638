"""A WARC response record as the page a crawl would have recorded: the same decoding (Scrapy's
HttpCompressionMiddleware), URL normalisation, headers (crawler/page_head.py), redirect rule and
link extraction (crawler/page_parser.py), so `ingest-warc` and a crawl store the same rows for
the same response.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from crawler import ROBOTS_TOKEN
from crawler import settings as defaults
from crawler.extraction import Limits
from crawler.items import Archived, PageItem
from crawler.page_head import PageHead
from crawler.page_parser import PageParser
from crawler.sitemaps import is_xml_sitemap, read_sitemap, robots_sitemaps
from crawler.urls import canonicalize
from crawler.warc.capture import DEPTH_FIELD, PREREQUISITE_FIELD, SITEMAP_FIELD
from crawler.warc.http import Fetched, Skipped


def decoded(body: bytes, headers: list[tuple[str, str]], max_size: int) -> bytes:
    """The body as Scrapy's HttpCompressionMiddleware hands it to the spider (gzip, deflate,
    br and zstd undone; an unknown coding stays on); raises ValueError when it cannot be."""
    codings = [v.encode("latin-1") for k, v in headers if k.lower() == "content-encoding"]
    if not codings:
        return body
    # Imported for the first record that has a Content-Encoding: importing Scrapy would cost
    # every worker a fifth of a second of CPU at its start, and most WARCs (Common Crawl's
    # among them) store decoded payloads. Scrapy's own steps (static methods), so a br body
    # decodes with whatever brotli Scrapy uses: warcio 1.8.1's brotli decoder fails with
    # brotli 1.2.
    from scrapy.downloadermiddlewares.httpcompression import HttpCompressionMiddleware

    to_decode, _ = HttpCompressionMiddleware._split_encodings(codings)
    for coding in to_decode:
        try:
            body = HttpCompressionMiddleware._decode(body, coding, max_size)
        except Exception as exc:  # zlib, brotli and zstd each raise their own
            raise ValueError(f"{coding.decode()}: {exc}") from exc
    return body


class PageBuilder:
    """Builds and parses the page items of one job's records."""

    def __init__(self, job: str, max_body_bytes: int = defaults.DOWNLOAD_MAXSIZE) -> None:
        self.job = job
        self.max_body_bytes = max_body_bytes
        self.parser = PageParser(ROBOTS_TOKEN, Limits())
        self.sitemaps: set[str] = set()  # named by the robots.txt records read so far

    def _is_sitemap(self, item: PageItem, registered: bool) -> bool:
        """`registered`: the crawl that archived it had the URL registered as a sitemap (a
        file's robots.txt may be in another file, read by another process, or later)."""
        if item.depth or item.error or not 200 <= item.status < 300:
            return False
        known = registered or item.url in self.sitemaps
        return known or (not item.is_html and is_xml_sitemap(item.body))

    def page(
        self, record: Fetched, path: Path, original: Fetched | None = None
    ) -> PageItem | Skipped:
        """The parsed page of a record; `original`: the response a revisit refers to."""
        if record.fields.get(PREREQUISITE_FIELD):
            if record.status == 200:  # its `Sitemap:` lines name sitemaps, as in a crawl
                self.sitemaps.update(robots_sitemaps(record.body, record.url))
            return Skipped(record.offset, record.url, "robots.txt fetched by a crawl")
        url = canonicalize(record.url)
        if url is None:
            return Skipped(record.offset, record.url, "not an http(s) URL")
        body = record.body if original is None else original.body
        if original is not None and not record.head:
            # a revisit that stored no HTTP head (allowed, and common before WARC 1.1)
            record = replace(record, status=original.status, headers=original.headers)
        if len(body) > self.max_body_bytes:
            return Skipped(record.offset, url, "body over DOWNLOAD_MAXSIZE", f"{len(body)} bytes")
        try:
            body = decoded(body, record.headers, self.max_body_bytes)
        except ValueError as exc:
            return Skipped(record.offset, url, "undecodable Content-Encoding", str(exc)[:200])
        item = self._item(record, url, body, path)
        item.parsed = self.parser.parse(item)
        registered = record.fields.get(SITEMAP_FIELD) == "true"
        if self._is_sitemap(item, registered):  # as pipelines/sitemaps.py reads it in a crawl
            item.parsed = read_sitemap(item.body)
        if record.entity_length >= 0:  # a WAT's links, parsed: the row gives the page's size
            item.body = bytes(record.entity_length)
        return item

    def _item(self, record: Fetched, url: str, body: bytes, path: Path) -> PageItem:
        head = PageHead.of(url, record.status, record.headers, self.parser.limits.url_length)
        depth = record.fields.get(DEPTH_FIELD, "0")
        return PageItem(
            job=self.job,
            url=url,
            depth=int(depth) if depth.isdigit() else 0,
            status=record.status,
            content_type=head.content_type,
            body=body,
            headers=head.headers,
            fetched_at=record.date,
            location=head.location,
            error=head.error,
            archived=Archived(str(path), record.offset, record.record_id, record.date),
        )
