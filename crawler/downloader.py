"""The HTTP(S) download handler: Scrapy's HTTP/1.1 one, with a bound on a response's head.

Twisted's HTTP/1.1 client keeps every header line it is sent, without limit: 1,000,000 lines
took 1 GB before the body was even reached, and Scrapy's `headers_received` signal fires only
once they are all in memory. Here the parser counts the bytes of the status line and headers as
they arrive and, past LINKGRAPH_MAX_HEADER_BYTES, drops the connection with a ParseError: the
page is recorded once as "invalid response: headers over N bytes" (crawler/failures.py) and not
fetched again, since the same server sends the same head. Chromium refuses a head over 256 KiB.

Scrapy's own handler picks its parser by swapping the class of the one Twisted's protocol builds
(HTTP11ClientProtocol.request() hardcodes it); this one swaps in a subclass of Scrapy's in the
same way, so the lenient parsing of bad header lines is kept. Those classes are private to Scrapy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from scrapy.core.downloader.handlers.http11 import (
    HTTP11DownloadHandler,
    _LenientHTTP11ClientFactory,
    _LenientHTTP11ClientProtocol,
    _LenientHTTPClientParser,
)
from twisted.web._newclient import ParseError

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from twisted.internet.defer import Deferred
    from twisted.internet.interfaces import IAddress
    from twisted.web._newclient import HTTP11ClientProtocol
    from twisted.web._newclient import Request as TxRequest
    from twisted.web.iweb import IResponse


def headers_over(max_bytes: int) -> str:
    """The reason a response whose head passed `max_bytes` is recorded with (after
    "invalid response: ")."""
    return f"headers over {max_bytes} bytes"


class _BoundedHeadParser(_LenientHTTPClientParser):
    """Counts the bytes of the head as its lines arrive, and stops at `max_head_bytes`."""

    max_head_bytes = 0  # set on each parser by its protocol; 0 = no bound
    head_bytes = 0  # the status line and headers so far (of 1xx interim responses too)

    def lineReceived(self, line: bytes) -> None:
        self.head_bytes += len(line) + 1  # with its "\n": lines end there in LineReceiver
        if self.head_bytes > self.max_head_bytes > 0:
            raise ParseError(headers_over(self.max_head_bytes), b"")
        super().lineReceived(line)

    def lineLengthExceeded(self, line: bytes) -> None:
        # One line longer than MAX_LENGTH (set to the bound): LineReceiver would close the
        # connection quietly, which reads as a connection lost (a retry) instead.
        raise ParseError(headers_over(self.max_head_bytes), b"")


class _BoundedHeadProtocol(_LenientHTTP11ClientProtocol):
    def __init__(self, quiescent_callback: Any, max_head_bytes: int) -> None:
        super().__init__(quiescent_callback)
        self.max_head_bytes = max_head_bytes

    def request(self, request: TxRequest) -> Deferred[IResponse]:
        finished = super().request(request)
        parser = self._parser  # None when the request was refused (the connection was busy)
        if parser is not None and self.max_head_bytes > 0:
            parser.__class__ = _BoundedHeadParser
            parser.max_head_bytes = self.max_head_bytes  # type: ignore[attr-defined]
            parser.MAX_LENGTH = self.max_head_bytes  # one line alone may not pass it either
        return finished


class _BoundedHeadFactory(_LenientHTTP11ClientFactory):
    max_head_bytes = 0  # set on a subclass per handler (the pool builds factories itself)

    def buildProtocol(self, addr: IAddress | None) -> HTTP11ClientProtocol:
        return _BoundedHeadProtocol(self._quiescentCallback, self.max_head_bytes)


class BoundedHeadersDownloadHandler(HTTP11DownloadHandler):
    """Scrapy's HTTP/1.1 handler, whose responses may have at most `max_header_bytes` of status
    line and headers (0 = no bound)."""

    def __init__(self, crawler: Crawler, max_header_bytes: int) -> None:
        super().__init__(crawler)

        class Factory(_BoundedHeadFactory):  # the pool builds factories from a class
            max_head_bytes = max_header_bytes

        self._pool._factory = Factory
        self.max_header_bytes = max_header_bytes

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> BoundedHeadersDownloadHandler:
        return cls(crawler, crawler.settings.getint("LINKGRAPH_MAX_HEADER_BYTES"))
