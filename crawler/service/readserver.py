"""A plain `linkgraph crawl` that owns an embedded index answers reads of it while it runs:
chDB lets no other process open the data directory, so `linkgraph sql`, the reports and
`export` ask this process instead (crawler/service/owner.py).

The server is aiohttp on 127.0.0.1, on a free port, in a thread with its own asyncio loop:
Scrapy's Twisted reactor owns the main thread. A random token, written only to the owner file
(mode 0600), keeps other local users out.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import secrets
import threading
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

from aiohttp import web

from crawler.service.owner import claim_owner
from crawler.service.reads import IndexReads, add_read_routes, error
from crawler.storage import StorageTarget

HOST = "127.0.0.1"
START_SECONDS = 10.0  # to bind and start, before the crawl goes on without it
STOP_SECONDS = 5.0  # for answers under way when the crawl ends

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def read_app(reads: IndexReads, token: str) -> web.Application:
    """The read routes, behind the token."""

    @web.middleware
    async def check_token(request: web.Request, handler: Handler) -> web.StreamResponse:
        given = request.headers.get("Authorization", "").encode()
        if not hmac.compare_digest(given, f"Bearer {token}".encode()):
            return error(401, "give the token of the owner file: Authorization: Bearer TOKEN")
        return await handler(request)

    app = web.Application(middlewares=[check_token])
    add_read_routes(app, reads)
    return app


class ReadServer:
    """aiohttp in a thread of its own, serving `reads` on HOST at a free port."""

    def __init__(self, reads: IndexReads, token: str) -> None:
        self.reads = reads
        self.token = token
        self.url = ""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready = threading.Event()
        self._failed: BaseException | None = None
        self._thread = threading.Thread(target=self._serve, name="index-reads", daemon=True)

    def start(self) -> str:
        """Start serving; the server's URL."""
        self._thread.start()
        if not self._ready.wait(START_SECONDS) or self._failed is not None:
            raise RuntimeError(f"the index's read server did not start: {self._failed!r}")
        return self.url

    def _serve(self) -> None:
        loop = self._loop = asyncio.new_event_loop()
        runner = web.AppRunner(read_app(self.reads, self.token), access_log=None)
        try:
            loop.run_until_complete(runner.setup())
            site = web.TCPSite(runner, HOST, 0, shutdown_timeout=STOP_SECONDS)
            loop.run_until_complete(site.start())
            port = runner.addresses[0][1]
            self.url = f"http://{HOST}:{port}"
        except BaseException as exc:  # said by start(), in the crawl's thread
            self._failed = exc
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(runner.cleanup())
            loop.run_until_complete(loop.shutdown_default_executor())
            loop.close()

    def stop(self) -> None:
        loop = self._loop
        if loop is not None and self._thread.is_alive():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(loop.stop)
            self._thread.join(STOP_SECONDS * 2)
        self.reads.close()


@contextlib.contextmanager
def serving_reads(target: StorageTarget, data_dir: Path) -> Iterator[ReadServer]:
    """For the block's time, this process answers reads of the embedded index it owns, and
    the owner file of `data_dir` says where; both go when the block ends, however it ends."""
    server = ReadServer(IndexReads(target), secrets.token_urlsafe(32))
    try:
        url = server.start()
        with claim_owner(data_dir, "crawl", url, server.token):
            yield server
    finally:
        server.stop()
