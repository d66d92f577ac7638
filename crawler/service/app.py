"""The aiohttp application of `linkgraph serve`: its routes, the token check, errors as one
line of JSON, the health routes and the OpenAPI document at /api/openapi.json.

Routes come from their modules: the jobs and /metrics (jobs_api.py), the index reads
(reads.py), the dashboard (dashboard.py); schedules (schedule.py) run with the app. A module not
there yet (another part of the service) is left out, with its routes.

With a token, every request needs `Authorization: Bearer TOKEN` but the health probes and the
dashboard's files, which hold no data (the dashboard's script sends the token with its calls).
"""

from __future__ import annotations

import asyncio
import hmac
import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from crawler import __version__
from crawler.errors import UsageError
from crawler.service.jobs_api import SERVICE, BadRequest, add_job_routes
from crawler.service.openapi import document
from crawler.service.service import JobBusy, NoSuchJob, Service

logger = logging.getLogger(__name__)

OPEN_PATHS = ("/healthz", "/readyz")  # what a load balancer's probe asks, with no token
OPEN_PREFIXES = ("/static/",)
OPENAPI_PATHS = web.AppKey("openapi_paths", dict)  # the parts' own paths (reads.py's)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def build_app(service: Service, token: str = "") -> web.Application:
    app = web.Application(middlewares=[_errors, _token_check(token)])
    app[SERVICE] = service
    app[OPENAPI_PATHS] = {}
    add_job_routes(app)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/api/openapi.json", openapi)
    _add_parts(app, service)
    return app


def _add_parts(app: web.Application, service: Service) -> None:
    try:
        from crawler.service.reads import READ_OPENAPI, add_read_routes
    except ImportError:
        logger.warning("no index reads in this build: /api/sql and /api/reports are left out")
    else:
        add_read_routes(app, service.reads)
        app[OPENAPI_PATHS].update(READ_OPENAPI)
    try:
        from crawler.service.dashboard import add_dashboard_routes
    except ImportError:
        pass
    else:
        add_dashboard_routes(app)
    try:
        from crawler.service.schedule import start_schedules
    except ImportError:
        pass
    else:
        if inspect.isasyncgenfunction(start_schedules):  # a cleanup context
            app.cleanup_ctx.append(start_schedules)
        elif inspect.iscoroutinefunction(start_schedules):  # a start-up hook
            app.on_startup.append(start_schedules)
        else:  # registers its own hooks
            start_schedules(app)


def _token_check(token: str) -> Any:
    expected = f"Bearer {token}".encode()

    @web.middleware
    async def check(request: web.Request, handler: Handler) -> web.StreamResponse:
        if token and not _open(request.path):
            given = request.headers.get("Authorization", "").encode()
            if not hmac.compare_digest(given, expected):
                return web.json_response(
                    {"error": "give the service's token: Authorization: Bearer TOKEN"},
                    status=401,
                    headers={"WWW-Authenticate": "Bearer"},
                )
        return await handler(request)

    return check


def _open(path: str) -> bool:
    return path in OPEN_PATHS or path == "/" or path.startswith(OPEN_PREFIXES)


@web.middleware
async def _errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every error as `{"error": "one line"}`, with its status."""
    try:
        return await handler(request)
    except NoSuchJob as exc:
        return error(404, f"no job {exc.args[0]!r} (see GET /api/jobs)")
    except JobBusy as exc:
        return error(409, str(exc))
    except (UsageError, BadRequest) as exc:
        return error(400, str(exc))
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        reason = exc.text if exc.text and not exc.text.startswith(str(exc.status)) else ""
        text = reason or f"{exc.reason}: {request.method} {request.path}"
        return error(exc.status, text)


def error(status: int, text: str) -> web.Response:
    return web.json_response({"error": " ".join(text.split())[:500]}, status=status)


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


async def readyz(request: web.Request) -> web.Response:
    """Ready when Redis and the index both answer."""
    service = request.app[SERVICE]
    problems = []
    try:
        await asyncio.to_thread(service.redis.ping)
    except Exception as exc:
        problems.append(f"redis: {type(exc).__name__}")
    try:
        await asyncio.to_thread(service.reads.rows, "SELECT 1")
    except Exception as exc:
        problems.append(f"index: {type(exc).__name__}")
    if problems:
        return web.json_response({"ok": False, "error": "; ".join(problems)}, status=503)
    return web.json_response({"ok": True})


async def openapi(request: web.Request) -> web.Response:
    return web.json_response(document(__version__, request.app[OPENAPI_PATHS]))
