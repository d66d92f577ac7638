"""Refuses a request to a non-public address before it is sent, unless private ones are allowed.

The resolver (crawler/resolver.py) refuses such addresses inside a connection too, but Twisted
hands a connection only "no results for hostname lookup" when its resolver fails, whatever the
reason. Asking the resolver here, before the download, lets the RefusedAddress itself reach the
errback, which records "refused: non-public address". The download then finds the name in
Scrapy's DNS cache, and the resolver's own check stays as the last line of defence.

It runs with --allow-private too, where it refuses nothing: a name that does not exist then
still reaches the errback as NameNotFound (NXDOMAIN: the target is gone), which Twisted would
also have reported as "no results".
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from scrapy.exceptions import CannotResolveHostError
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet.error import DNSLookupError

from crawler.failures import NameNotFound, RefusedAddress
from crawler.resolver import GuardedResolver

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler


class AddressGuardMiddleware:
    def __init__(self, resolver: GuardedResolver) -> None:
        self.resolver = resolver

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> AddressGuardMiddleware:
        from twisted.internet import reactor

        return cls(GuardedResolver.from_crawler(crawler, reactor))

    async def process_request(self, request: Request) -> None:
        name = urlparse_cached(request).hostname
        if not name:
            return
        try:
            await maybe_deferred_to_future(self.resolver.getHostByName(name))
        except (RefusedAddress, NameNotFound):
            raise
        except DNSLookupError as exc:
            # What the download would fail with, without looking the name up a second time.
            raise CannotResolveHostError(str(exc)) from exc
