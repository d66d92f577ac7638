"""The OpenAPI 3 document of the service's API (served at /api/openapi.json): the jobs, metrics
and health routes described here, the index reads' routes by reads.py (READ_OPENAPI)."""

from __future__ import annotations

from typing import Any

from crawler.jobspec import JobSpec
from crawler.service.jobs_api import ACTIONS


def _json(schema: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": _json("Error")}


def _job(description: str) -> dict[str, Any]:
    return {"description": description, "content": _json("Job")}


JOB_PARAMETER = {"name": "job", "in": "path", "required": True, "schema": {"type": "string"}}
COUNTS = {"type": "object", "additionalProperties": {"type": "integer"}}
JOB_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "A job's figures, counted in Redis by all its workers (crawler/jobstats.py)",
    "properties": {
        "job": {"type": "string"},
        "state": {"type": "string", "enum": ["running", "paused", "finished",
                  "stopped at max-pages", "stopped", "interrupted", "failed"]},
        "pages": {"type": "integer"}, "links": {"type": "integer"}, "bytes": {"type": "integer"},
        "status": {**COUNTS, "description": "pages by status class: 2xx..5xx, none"},
        "errors": {**COUNTS, "description": "pages by fetch error class"},
        "robots_refused": {"type": "integer"}, "queued": {"type": "integer"},
        "in_flight": {"type": "integer"}, "hosts_queued": {"type": "integer"},
        "hosts_parked": {"type": "integer"}, "live_workers": {"type": "integer"},
        "started": {"type": "string", "format": "date-time", "nullable": True},
        "ended": {"type": "string", "format": "date-time", "nullable": True},
        "elapsed_s": {"type": "number"}, "pages_per_s": {"type": "number"},
        "max_pages": {"type": "integer", "description": "0: no limit"},
        "eta_s": {"type": "number", "nullable": True},
        "top_hosts": {"type": "array", "description": "[host, pages], most pages first",
                      "items": {"type": "array", "items": {"oneOf": [{"type": "string"},
                                                                     {"type": "integer"}]}}},
        "summary": {"type": "object", "nullable": True, "description": "once the run ended"},
    },
}  # fmt: skip
SUBMISSION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["seeds"],
    "additionalProperties": False,
    "properties": {
        "job": {"type": "string", "description": "a new job's name (default: job-<time>), or "
                "a known job's to resume it (its saved spec updated with `spec`)"},
        "seeds": {"type": "array", "items": {"type": "string", "format": "uri"},
                  "description": "http(s) URLs; may be empty to resume a known job"},
        "workers": {"type": "integer", "minimum": 1, "default": 1},
        "spec": {"type": "object", "additionalProperties": False,
                 "description": "job spec fields (crawler/jobspec.py; crawler/settings.py "
                 "says what each means); `settings`: any other setting by name",
                 "properties": {}},
    },
}  # fmt: skip
_TYPES = {bool: "boolean", int: "integer", float: "number", str: "string", list: "array",
          dict: "object"}  # fmt: skip
for _name, _default in vars(JobSpec()).items():
    if _name not in ("job", "clickhouse_url", "database", "seed_domains"):
        SUBMISSION_SCHEMA["properties"]["spec"]["properties"][_name] = {
            "type": _TYPES[type(_default)]
        }
JOBS_OPENAPI: dict[str, Any] = {
    "/api/jobs": {
        "get": {"summary": "every job, with its figures",
                "responses": {"200": {"description": "the jobs", "content": {"application/json": {
                    "schema": {"type": "object", "properties": {"jobs": {
                        "type": "array", "items": {"$ref": "#/components/schemas/Job"}}}}}}}}},
        "post": {"summary": "start a job (or resume a known one) in worker processes",
                 "requestBody": {"required": True, "content": {"application/json": {
                     "schema": {"$ref": "#/components/schemas/Submission"}}}},
                 "responses": {"201": _job("the job, started"), "400": _error("bad input"),
                               "409": _error("the job is running already")}},
    },
    "/api/jobs/{job}": {
        "get": {"summary": "one job's figures", "parameters": [JOB_PARAMETER],
                "responses": {"200": _job("the job"), "404": _error("no such job")}},
    },
    **{f"/api/jobs/{{job}}/{action}": {"post": {
        "summary": f"{action} the job" + (" (starts workers if none run it)"
                                           if action == "resume" else ""),
        "parameters": [JOB_PARAMETER],
        "responses": {"200": _job("the job, after"), "404": _error("no such job")}}}
       for action in ACTIONS},
    "/metrics": {"get": {"summary": "every job's figures in the Prometheus text format",
                         "responses": {"200": {"description": "labelled job=",
                                               "content": {"text/plain": {}}}}}},
    "/healthz": {"get": {"summary": "the process answers (no token needed)", "security": [],
                         "responses": {"200": {"description": '{"ok": true}'}}}},
    "/readyz": {"get": {"summary": "Redis and the index answer (no token needed)", "security": [],
                        "responses": {"200": {"description": '{"ok": true}'},
                                      "503": _error("Redis or the index does not answer")}}},
    "/api/openapi.json": {"get": {"summary": "this document",
                                  "responses": {"200": {"description": "OpenAPI 3"}}}},
}  # fmt: skip


def document(version: str, more_paths: dict[str, Any]) -> dict[str, Any]:
    """The whole document: these paths, then `more_paths` (the index reads')."""
    return {
        "openapi": "3.0.3",
        "info": {"title": "linkgraph", "version": version,
                 "description": "The API of `linkgraph serve`. Errors are "
                 '`{"error": "one line"}` with a 4xx status.'},
        "paths": {**JOBS_OPENAPI, **more_paths},
        "components": {
            "schemas": {"Job": JOB_SCHEMA, "Submission": SUBMISSION_SCHEMA,
                        "Error": {"type": "object", "properties": {"error": {"type": "string"}}}},
            "securitySchemes": {"token": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"token": []}],
    }  # fmt: skip
