"""Sends every request through the proxy that LINKGRAPH_PROXY names, and through none otherwise.

Scrapy's HttpProxyMiddleware, left alone, sends requests through whatever proxy `http_proxy` or
`https_proxy` name in the environment. A crawl would then go wherever a shell happened to point,
and the address guard, which checks the address a request's host resolves to, would not be what
decides where the bytes go. So the proxy is a setting, and this middleware sets the request's
`proxy` meta key before HttpProxyMiddleware runs: a URL for the proxy, or None, which that
middleware takes as "no proxy" and then ignores the environment. HttpProxyMiddleware still
turns credentials in the proxy URL into a Proxy-Authorization header.

The guard keeps checking the target host (not the proxy) either way.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler


class ProxyMiddleware:
    def __init__(self, proxy: str) -> None:
        self.proxy = proxy or None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ProxyMiddleware:
        # checked with every other setting, before the crawl starts (crawler/setting_values.py);
        # one with a password comes from the environment, as the job saves no passwords
        return cls(crawler.settings.get("LINKGRAPH_PROXY") or os.environ.get("LINKGRAPH_PROXY", ""))

    def process_request(self, request: Request) -> None:
        request.meta.setdefault("proxy", self.proxy)
