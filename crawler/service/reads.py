"""Reads of the index by the process that owns it (a crawl or the service), for the CLI and the
HTTP API: GET /api/sql (any query, readonly=1, any output format, streamed) and one endpoint
per registered report.

chDB hosts one engine per process, which any number of clients share; each client serializes
its own calls (a stream holds it until closed), so reads borrow clients from a small pool and
never wait for the crawl's writer, which has its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from aiohttp import web
from clickhouse_connect.driver.binding import DT64Param
from clickhouse_connect.driver.exceptions import ClickHouseError

from crawler.errors import UsageError
from crawler.reports import REPORTS, check_params, report_named, run_report
from crawler.reports.values import FLAG
from crawler.service.read_paths import API_FORMAT, READ_OPENAPI
from crawler.statement import read_session, stream_statement
from crawler.storage import StorageTarget, connect, first_line

if TYPE_CHECKING:
    from clickhouse_connect.driver.client import Client

POOL_SIZE = 4  # clients for reads at once; more wait for one
_CONTENT_TYPES = {
    "JSON": "application/json", "JSONCompact": "application/json",
    "JSONEachRow": "application/x-ndjson", "CSV": "text/csv", "CSVWithNames": "text/csv",
    "TSV": "text/tab-separated-values", "TabSeparated": "text/tab-separated-values",
    "TSVWithNames": "text/tab-separated-values", "Parquet": "application/octet-stream",
    "Native": "application/octet-stream", "RowBinary": "application/octet-stream",
    "Arrow": "application/octet-stream",
}  # fmt: skip


class Verbatim(DT64Param):
    """A parameter's text as ClickHouse reads a `param_NAME` over HTTP, passed on unchanged:
    the driver would escape a str once more, and an array's text is not a str to escape. The
    driver renders a DT64Param by calling its `format`, the one hook it offers for that."""

    def __init__(self, text: str) -> None:
        super().__init__(datetime(1970, 1, 1, tzinfo=timezone.utc), timezone.utc)
        self.text = text

    def format(self, tz: Any, top_level: bool) -> str:
        return self.text


class IndexReads:
    """The owner's index client for reads. chDB: one engine per process."""

    def __init__(self, target: StorageTarget, size: int = POOL_SIZE) -> None:
        self.target = target
        self._size = size
        self._idle: queue.LifoQueue[Client] = queue.LifoQueue()
        self._opened: list[Client] = []
        self._lock = threading.Lock()
        self._closed = False

    @contextlib.contextmanager
    def borrow(self) -> Iterator[Client]:
        """A readonly client of the pool, for the time of the block."""
        client = self._take()
        try:
            yield client
        finally:
            if self._closed:
                client.close()
            else:
                self._idle.put(client)

    def _take(self) -> Client:
        if self._closed:
            raise UsageError("the index is closing")
        with contextlib.suppress(queue.Empty):
            return self._idle.get_nowait()
        with self._lock:
            if len(self._opened) < self._size:
                client = connect(self.target, migrate=False)
                read_session(client)  # readonly=1, which no query can lift
                self._opened.append(client)
                return client
        return self._idle.get()

    def rows(self, sql: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        with self.borrow() as client:
            try:
                return [tuple(r) for r in client.query(sql, parameters=params).result_rows]
            except ClickHouseError as exc:
                raise UsageError(f"query failed: {first_line(str(exc))}") from None

    def stream(self, sql: str, params: dict[str, Any] | None, fmt: str) -> Iterator[bytes]:
        """One statement's result in `fmt` (its FORMAT clause wins), chunk by chunk; errors
        surface at the first chunk."""
        with self.borrow() as client:
            yield from stream_statement(client, sql, params, fmt)

    def report(self, name: str, params: dict[str, Any], fmt: str) -> Iterator[bytes]:
        """Report `name`'s output in `fmt`, for checked or text `params`."""
        report = report_named(name)
        values = check_params(name, params)
        if report.document is None:
            sql, parameters = report.statement(values)
            yield from self.stream(sql, parameters, fmt)
            return
        with self.borrow() as client:
            output = run_report(client, name, values, fmt)
        assert isinstance(output, bytes)
        yield output

    def close(self) -> None:
        self._closed = True
        with self._lock:
            opened, self._opened = self._opened, []
        for client in opened:
            client.close()


__all__ = ["READ_OPENAPI", "IndexReads", "add_read_routes"]


READS = web.AppKey("reads", IndexReads)


def add_read_routes(app: web.Application, reads: IndexReads) -> None:
    app[READS] = reads
    app.router.add_get("/api/sql", _sql)
    app.router.add_post("/api/sql", _sql)
    app.router.add_get("/api/reports/{name}", _report)


def error(status: int, text: str) -> web.Response:
    return web.json_response({"error": " ".join(text.split())}, status=status)


async def _sql(request: web.Request) -> web.StreamResponse:
    given = dict(request.query)
    if request.method == "POST":  # a query too long for a URL
        given.update({k: v for k, v in (await request.post()).items() if isinstance(v, str)})
    sql = given.get("query")
    if sql is None:
        return error(400, "give the query: /api/sql?query=SELECT...")
    fmt = given.get("format") or API_FORMAT
    params = {k[6:]: Verbatim(v) for k, v in given.items() if k.startswith("param_")}
    reads = request.app[READS]
    return await _send(request, reads.stream(sql, dict(params), fmt), fmt)


async def _report(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    if name not in REPORTS:
        return error(404, f"no report named {name!r}: the reports are {', '.join(REPORTS)}")
    report = REPORTS[name]
    fmt = request.query.get("format") or (report.formats[-1] if report.formats else API_FORMAT)
    params: dict[str, Any] = {}
    for key in set(request.query) - {"format"}:
        param = next((p for p in report.all_params if p.name == key), None)
        values = request.query.getall(key)
        if param is not None and param.kind is FLAG:
            params[key] = values[-1].lower() not in ("", "0", "false", "no")
        else:
            params[key] = values if param is not None and param.many else values[-1]
    reads = request.app[READS]
    return await _send(request, reads.report(name, params, fmt), fmt)


async def _send(request: web.Request, chunks: Iterator[bytes], fmt: str) -> web.StreamResponse:
    """Stream `chunks`, each read in a thread; an error before the first is a 400 with one
    line, one after it breaks the connection off (as a ClickHouse server does)."""
    loop = asyncio.get_running_loop()
    try:
        try:
            chunk = await loop.run_in_executor(None, next, chunks, b"")
        except UsageError as exc:
            return error(400, str(exc))
        response = web.StreamResponse(
            headers={"Content-Type": _CONTENT_TYPES.get(fmt, "text/plain; charset=utf-8")}
        )
        await response.prepare(request)
        while chunk:
            await response.write(chunk)
            chunk = await loop.run_in_executor(None, next, chunks, b"")
        await response.write_eof()
        return response
    finally:
        await loop.run_in_executor(None, _close, chunks)


def _close(chunks: Iterator[bytes]) -> None:
    close = getattr(chunks, "close", None)
    if close is not None:
        close()
