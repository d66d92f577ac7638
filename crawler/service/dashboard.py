"""The dashboard: static pages that `linkgraph serve` hands to a browser.

Plain HTML, CSS and JavaScript from `static/` (shipped as package data), with no build step and
nothing fetched from elsewhere: the page reads the JSON API of the same server (/api/jobs,
/api/reports/...) and draws its charts itself. The pages hold no data, so they are served
without the API token; the script asks for the token when the API answers 401.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

STATIC = Path(__file__).resolve().with_name("static")
# The page and its assets change with linkgraph's version: make the browser ask each time.
NO_CACHE = {"Cache-Control": "no-cache"}


async def _index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "index.html", headers=NO_CACHE)


def add_dashboard_routes(app: web.Application) -> None:
    """The dashboard at `/`, its assets under `/static/`."""
    app.router.add_get("/", _index, name="dashboard")
    app.router.add_static("/static/", STATIC, name="static", append_version=False)
