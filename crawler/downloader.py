"""The HTTP(S) download handler: Scrapy's HTTP/1.1 one, with a bound on a response's head.

Twisted's HTTP/1.1 client keeps every header line it is sent, without limit: 1,000,000 lines
took 1 GB before the body was even reached, and Scrapy's `headers_received` signal fires only
once they are all in memory. Here the parser counts the bytes of the status line and headers as
they arrive and, past LINKGRAPH_MAX_HEADER_BYTES, drops the connection with a ParseError: the
page is recorded once as "invalid response: headers over N bytes" (crawler/failures.py) and not
fetched again, since the same server sends the same head. Chromium refuses a head over 256 KiB.

The parser also keeps the head as it came (`RECEIVED_HEAD_META`, for the WARC archive): Twisted
keeps the reason phrase only on its own response object, which Scrapy drops, lower-cases header
names, and files Connection, Content-Length, Keep-Alive and Transfer-Encoding away from the other
headers, where Scrapy never reads them. Only the agent that reads the body holds both Twisted's
response and Scrapy's request, so archiving swaps in a subclass of it.

Scrapy's own handler picks its parser by swapping the class of the one Twisted's protocol builds
(HTTP11ClientProtocol.request() hardcodes it); this one swaps in a subclass of Scrapy's in the
same way, so the lenient parsing of bad header lines is kept. Those classes are private to Scrapy.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from scrapy.core.downloader.handlers.http11 import (
    HTTP11DownloadHandler,
    _LenientHTTP11ClientFactory,
    _LenientHTTP11ClientProtocol,
    _LenientHTTPClientParser,
    _ScrapyAgent,
)
from scrapy.exceptions import ResponseDataLossError
from scrapy.utils._download_handlers import get_dataloss_msg, wrap_twisted_exceptions
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.web._newclient import ParseError

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response
    from twisted.internet.defer import Deferred
    from twisted.internet.interfaces import IAddress
    from twisted.web._newclient import HTTP11ClientProtocol
    from twisted.web._newclient import Request as TxRequest
    from twisted.web.iweb import IResponse

logger = logging.getLogger(__name__)

# Request meta: the response's status line and headers as received, up to the blank line that
# ends them (bytes), when the handler keeps heads (LINKGRAPH_WARC_DIR is set).
RECEIVED_HEAD_META = "lg_received_head"


def headers_over(max_bytes: int) -> str:
    """The reason a response whose head passed `max_bytes` is recorded with (after
    "invalid response: ")."""
    return f"headers over {max_bytes} bytes"


class _BoundedHeadParser(_LenientHTTPClientParser):
    """Counts the bytes of the head as its lines arrive, and stops at `max_head_bytes`; keeps
    the lines of the final (not 1xx) head, as they came, on Twisted's response object."""

    max_head_bytes = 0  # set on each parser by its protocol; 0 = no bound
    head_bytes = 0  # the status line and headers so far (of 1xx interim responses too)
    head_lines: list[bytes] | None = None  # set on each parser by its protocol: None = not kept

    def lineReceived(self, line: bytes) -> None:
        self.head_bytes += len(line) + 1  # with its "\n": lines end there in LineReceiver
        if self.head_bytes > self.max_head_bytes > 0:
            raise ParseError(headers_over(self.max_head_bytes), b"")
        if self.head_lines is not None:
            self.head_lines.append(line + b"\n")  # a CR before it is still on `line`
        super().lineReceived(line)

    def allHeadersReceived(self) -> None:
        if self.head_lines is not None:
            if 100 <= self.response.code < 200:
                self.head_lines = []  # an interim response: Twisted skips it, the archive too
            else:
                self.response.received_head = b"".join(self.head_lines)
        super().allHeadersReceived()

    def lineLengthExceeded(self, line: bytes) -> None:
        # One line longer than MAX_LENGTH (set to the bound): LineReceiver would close the
        # connection quietly, which reads as a connection lost (a retry) instead.
        raise ParseError(headers_over(self.max_head_bytes), b"")


class _BoundedHeadProtocol(_LenientHTTP11ClientProtocol):
    def __init__(self, quiescent_callback: Any, max_head_bytes: int, keep_heads: bool) -> None:
        super().__init__(quiescent_callback)
        self.max_head_bytes = max_head_bytes
        self.keep_heads = keep_heads

    def request(self, request: TxRequest) -> Deferred[IResponse]:
        finished = super().request(request)
        parser = self._parser  # None when the request was refused (the connection was busy)
        if parser is not None:
            parser.__class__ = _BoundedHeadParser
            parser.head_lines = [] if self.keep_heads else None  # type: ignore[attr-defined]
            if self.max_head_bytes > 0:
                parser.max_head_bytes = self.max_head_bytes  # type: ignore[attr-defined]
                parser.MAX_LENGTH = self.max_head_bytes  # one line alone may not pass it either
        return finished


class _BoundedHeadFactory(_LenientHTTP11ClientFactory):
    max_head_bytes = 0  # set on a subclass per handler (the pool builds factories itself)
    keep_heads = False

    def buildProtocol(self, addr: IAddress | None) -> HTTP11ClientProtocol:
        return _BoundedHeadProtocol(self._quiescentCallback, self.max_head_bytes, self.keep_heads)


class _HeadKeepingAgent(_ScrapyAgent):
    """Scrapy's agent, which also leaves the head as received in the request's meta."""

    def _cb_bodyready(self, txresponse: Any, request: Request) -> Any:
        head = getattr(txresponse, "received_head", None)
        if head is not None:
            request.meta[RECEIVED_HEAD_META] = head
        return super()._cb_bodyready(txresponse, request)


class BoundedHeadersDownloadHandler(HTTP11DownloadHandler):
    """Scrapy's HTTP/1.1 handler, whose responses may have at most `max_header_bytes` of status
    line and headers (0 = no bound); with `keep_heads`, each head as received is left in its
    request's meta (`RECEIVED_HEAD_META`)."""

    def __init__(self, crawler: Crawler, max_header_bytes: int, keep_heads: bool = False) -> None:
        super().__init__(crawler)
        keep = keep_heads

        class Factory(_BoundedHeadFactory):  # the pool builds factories from a class
            max_head_bytes = max_header_bytes
            keep_heads = keep

        self._pool._factory = Factory
        self.max_header_bytes = max_header_bytes
        self.keep_heads = keep_heads

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> BoundedHeadersDownloadHandler:
        s = crawler.settings
        keep_heads = bool(s.get("LINKGRAPH_WARC_DIR"))  # only the archive reads them
        return cls(crawler, s.getint("LINKGRAPH_MAX_HEADER_BYTES"), keep_heads)

    async def download_request(self, request: Request) -> Response:
        if not self.keep_heads:
            return await super().download_request(request)
        # Scrapy's download_request, with the agent swapped (Scrapy names its class inline)
        agent = _HeadKeepingAgent(
            contextFactory=self._contextFactory,
            bindAddress=self._bind_address,
            pool=self._pool,
            maxsize=self._default_maxsize,
            warnsize=self._default_warnsize,
            fail_on_dataloss=self._fail_on_dataloss,
            crawler=self._crawler,
            tls_verbose_logging=self._tls_verbose_logging,
        )
        try:
            with wrap_twisted_exceptions():
                return await maybe_deferred_to_future(agent.download_request(request))
        except ResponseDataLossError:
            if not self._fail_on_dataloss_warned:
                logger.warning(get_dataloss_msg(request.url))
                self._fail_on_dataloss_warned = True
            raise
