"""The /api/jobs routes and /metrics: submit a job, read its figures, pause, resume, stop.

A job's JSON is its `JobStats.to_json()` (crawler/jobstats.py). Redis calls run in a thread, so
a slow one never holds the server's event loop; a submission runs on the loop itself, since it
spawns worker processes (crawler/processes/workers.py changes signal handlers around that, which
only the main thread may).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web

from crawler.jobstats import JobStats, read_job_stats
from crawler.service import metrics
from crawler.service.service import NoSuchJob, Service

# The service in the app, for every part of it (the job routes, the schedules, the probes)
SERVICE = web.AppKey("service", Service)

SUBMISSION_FIELDS = ("job", "seeds", "workers", "spec")
ACTIONS = ("pause", "resume", "stop")


def add_job_routes(app: web.Application) -> None:
    app.router.add_get("/api/jobs", list_jobs)
    app.router.add_post("/api/jobs", submit_job)
    app.router.add_get("/api/jobs/{job}", show_job)
    for action in ACTIONS:
        app.router.add_post(f"/api/jobs/{{job}}/{action}", steer_job)
    app.router.add_get("/metrics", scrape)


def _service(request: web.Request) -> Service:
    return request.app[SERVICE]


async def _stats(service: Service, job: str) -> JobStats:
    stats = await asyncio.to_thread(read_job_stats, service.redis, job)
    if stats is None:
        raise NoSuchJob(job)
    return stats


async def _all_stats(service: Service) -> list[JobStats]:
    def read() -> list[JobStats]:
        found = (read_job_stats(service.redis, job) for job in service.names())
        return [stats for stats in found if stats is not None]

    return await asyncio.to_thread(read)


async def list_jobs(request: web.Request) -> web.Response:
    stats = await _all_stats(_service(request))
    return web.json_response({"jobs": [s.to_json() for s in stats]})


async def show_job(request: web.Request) -> web.Response:
    stats = await _stats(_service(request), request.match_info["job"])
    return web.json_response(stats.to_json())


async def submit_job(request: web.Request) -> web.Response:
    body = await json_body(request)
    unknown = [key for key in body if key not in SUBMISSION_FIELDS]
    if unknown:
        raise BadRequest(f"{unknown[0]}: no such field (give {', '.join(SUBMISSION_FIELDS)})")
    service = _service(request)
    job = service.submit(
        body.get("job"), body.get("spec", {}), body.get("seeds", []), body.get("workers", 1)
    )
    return web.json_response((await _stats(service, job)).to_json(), status=201)


async def steer_job(request: web.Request) -> web.Response:
    service = _service(request)
    job = request.match_info["job"]
    action = request.path.rsplit("/", 1)[1]
    if action == "resume":  # may start workers: on the loop's thread (see above)
        service.set_state(job, action)
    else:
        await asyncio.to_thread(service.set_state, job, action)
    return web.json_response((await _stats(service, job)).to_json())


async def scrape(request: web.Request) -> web.Response:
    stats = await _all_stats(_service(request))
    text = metrics.render(stats)
    return web.Response(body=text.encode(), headers={"Content-Type": metrics.CONTENT_TYPE})


class BadRequest(ValueError):
    """Input the API refuses with 400 before it reaches the service."""


async def json_body(request: web.Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.read() or b"{}")
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(f"the body is not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise BadRequest("the body is not a JSON object")
    return body
