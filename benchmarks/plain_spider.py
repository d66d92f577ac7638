"""The baseline: a plain Scrapy spider that follows every link `LinkExtractor` finds.

It stores nothing: no frontier outside memory (Scrapy's default scheduler and dupefilter), no
index, no per-host politeness. Run it as a script; it writes its counts as JSON:

    python -m benchmarks.plain_spider --seeds-file F --hosts-file F --pages N --result F
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import scrapy
from scrapy.crawler import CrawlerProcess
from scrapy.exceptions import CloseSpider
from scrapy.http import Response, TextResponse
from scrapy.linkextractors import LinkExtractor


class PlainSpider(scrapy.Spider):
    name = "plain"

    def __init__(self, seeds: list[str], limit: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.start_urls = seeds
        self.limit = limit
        self.extractor = LinkExtractor()
        self.pages = 0
        self.links = 0
        self.hosts: set[str] = set()
        self.reason = ""

    def parse(self, response: Response) -> Iterator[scrapy.Request]:
        # Responses still in flight when the limit is hit are not counted: linkgraph's
        # --max-pages stops at exactly N pages too.
        if self.pages >= self.limit:
            return
        self.pages += 1
        if not isinstance(response, TextResponse):
            return  # the bench web serves only HTML; anything else has no links to extract
        self.hosts.add(urlsplit(response.url).hostname or "")
        links = self.extractor.extract_links(response)
        self.links += len(links)
        for link in links:
            yield scrapy.Request(link.url, callback=self.parse)
        if self.pages >= self.limit:
            raise CloseSpider("pagecount")

    def closed(self, reason: str) -> None:
        self.reason = reason


def settings_for(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "CONCURRENT_REQUESTS": args.concurrency,
        "CONCURRENT_REQUESTS_PER_DOMAIN": args.concurrency_per_domain,
        # Scrapy starts this many tasks per response: the same tuning linkgraph uses, so the
        # comparison is of the work done per page, not of one setting.
        "CONCURRENT_ITEMS": args.concurrent_items,
        "DOWNLOAD_DELAY": 0,
        "ROBOTSTXT_OBEY": args.robots,
        "USER_AGENT": args.user_agent,
        "LOG_LEVEL": "WARNING",
        "LOGSTATS_INTERVAL": 0,
        "TELNETCONSOLE_ENABLED": False,
        # What linkgraph also turns off: a request is fetched once, without cookies.
        "COOKIES_ENABLED": False,
        "RETRY_ENABLED": False,
        # The same resolver as linkgraph's, so the bench host names reach 127.0.0.1.
        "TWISTED_DNS_RESOLVER": "crawler.resolver.GuardedResolver",
        "LINKGRAPH_HOSTS_FILE": str(args.hosts_file),
        "LINKGRAPH_ALLOW_PRIVATE": True,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.plain_spider")
    parser.add_argument("--seeds-file", type=Path, required=True)
    parser.add_argument("--hosts-file", type=Path, required=True)
    parser.add_argument("--pages", type=int, required=True)
    parser.add_argument("--result", type=Path, required=True)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--concurrency-per-domain", type=int, default=64)
    parser.add_argument("--concurrent-items", type=int, default=100)
    parser.add_argument("--user-agent", default="plain-scrapy-bench")
    parser.add_argument("--robots", action="store_true", help="obey robots.txt (Scrapy's own)")
    args = parser.parse_args(argv)

    seeds = args.seeds_file.read_text(encoding="utf-8").split()
    process = CrawlerProcess(settings_for(args))
    crawler = process.create_crawler(PlainSpider)
    process.crawl(crawler, seeds=seeds, limit=args.pages)
    process.start()
    spider = crawler.spider
    assert isinstance(spider, PlainSpider)
    stats = crawler.stats.get_stats() if crawler.stats else {}
    result = {
        "pages": spider.pages,
        "links": spider.links,
        "hosts": len(spider.hosts),
        "finish_reason": spider.reason,
        "responses": int(stats.get("response_received_count", 0)),
        "robots_requests": int(stats.get("robotstxt/request_count", 0)),
    }
    args.result.write_text(json.dumps(result), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
