"""A page's parse, as every stage after it reads it (`PageItem.parsed`): an HTML page's links
(crawler/extraction.py), a redirect's Location, nothing for the rest.

The crawl's extraction pipeline (pipelines/extraction.py) and `ingest-warc`
(crawler/warc/pages.py) both parse with it, so both find the same links in the same response.
It imports neither Scrapy nor Twisted, which an ingest worker has no use for.
"""

from __future__ import annotations

from dataclasses import dataclass

from crawler.extraction import Limits, extract, redirect_link
from crawler.items import PageItem, ParsedPage


def charset_of(content_type_header: str) -> str | None:
    for param in content_type_header.split(";")[1:]:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip():
            return value.strip().strip("\"'")
    return None


@dataclass(frozen=True, slots=True)
class PageParser:
    agent: str  # the robots token whose page directives (meta robots, X-Robots-Tag) apply
    limits: Limits

    def parse(self, item: PageItem) -> ParsedPage:
        if item.error:
            return ParsedPage()
        if 300 <= item.status < 400:
            if not item.location:
                return ParsedPage()
            # The spider left `location` empty if it was over the URL bound (and said so).
            link = redirect_link(item.url, item.location, self.limits.url_length)
            return ParsedPage(links=[link] if link else [])
        if not (200 <= item.status < 300 and item.is_html):
            return ParsedPage()  # error pages and non-HTML files are recorded without links
        x_robots = item.headers.get("x-robots-tag")
        link_header = item.headers.get("link")
        return extract(
            item.body,
            item.url,
            encoding=charset_of(item.headers.get("content-type", "")),
            x_robots_tag=x_robots.split("\n") if x_robots else None,
            link_header=link_header.split("\n") if link_header else None,
            agent=self.agent,
            limits=self.limits,
        )
