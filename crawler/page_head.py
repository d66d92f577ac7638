"""What a page keeps of its response head: a crawl's spider (crawler/spiders/links.py) and
`ingest-warc` (crawler/warc/pages.py) both build it here, so both record the same headers,
content type and redirect target for the same response.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from crawler.extraction import long_urls
from crawler.urls import resolve

# Response headers kept on a PageItem (the WARC writer and the index need no others).
KEPT_HEADERS = (
    b"content-type", b"location", b"x-robots-tag", b"link", b"content-length", b"date",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class PageHead:
    headers: dict[str, str]  # KEPT_HEADERS, lowercase names, repeated values joined by "\n"
    content_type: str  # media type only, lowercase
    location: str  # absolute redirect target of a 3xx, "" otherwise (or over the URL bound)
    error: str  # why a Location was left out, else ""

    @classmethod
    def of(
        cls, url: str, status: int, headers: Iterable[tuple[str, str]], max_url_length: int
    ) -> PageHead:
        joined: dict[str, list[str]] = {}
        for name, value in headers:
            if name.lower().encode("latin-1") in KEPT_HEADERS:
                joined.setdefault(name.lower(), []).append(value)
        kept = {name: "\n".join(values) for name, values in joined.items()}
        if "content-type" in kept:  # repeated, the last one counts, as in the Fetch standard
            kept["content-type"] = kept["content-type"].rpartition("\n")[2]
        content_type = kept.get("content-type", "").split(";", 1)[0].strip().lower()
        location, error = "", ""
        if 300 <= status < 400 and "location" in kept:
            location = resolve(url, kept["location"].split("\n", 1)[0]) or ""
            if 0 < max_url_length < len(location):  # unusable, and a cut URL is a wrong one
                location, error = "", long_urls(1, max_url_length)
        return cls(kept, content_type, location, error)
