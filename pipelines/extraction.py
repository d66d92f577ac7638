"""Parses each page exactly once and attaches the result (`PageItem.parsed`) for later stages."""

from __future__ import annotations

from crawler import ROBOTS_TOKEN
from crawler.extraction import extract, redirect_link
from crawler.items import PageItem, ParsedPage


def charset_of(content_type_header: str) -> str | None:
    for param in content_type_header.split(";")[1:]:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip():
            return value.strip().strip("\"'")
    return None


class ExtractionPipeline:
    def __init__(self, agent: str) -> None:
        self.agent = agent

    @classmethod
    def from_crawler(cls, crawler: object) -> ExtractionPipeline:
        return cls(ROBOTS_TOKEN)

    def process_item(self, item: PageItem) -> PageItem:
        item.parsed = self.parse(item)
        return item

    def parse(self, item: PageItem) -> ParsedPage:
        if item.error:
            return ParsedPage()
        if 300 <= item.status < 400:
            link = redirect_link(item.url, item.location) if item.location else None
            return ParsedPage(links=[link] if link else [])
        if not (200 <= item.status < 300 and item.is_html):
            return ParsedPage()  # error pages and non-HTML files are recorded without links
        x_robots = item.headers.get("x-robots-tag")
        return extract(
            item.body,
            item.url,
            encoding=charset_of(item.headers.get("content-type", "")),
            x_robots_tag=x_robots.split("\n") if x_robots else None,
            agent=self.agent,
        )
