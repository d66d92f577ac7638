"""The OpenAPI "paths" of the index reads (crawler/service/reads.py): /api/sql, and one
endpoint per registered report, its parameters derived from the report's, as the command
line's are."""

from __future__ import annotations

from typing import Any

from crawler.reports import REPORTS
from crawler.reports.values import FLAG

API_FORMAT = "JSON"  # ClickHouse's JSON format: {"meta", "data", "rows", ...}


def _report_parameters() -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for report in REPORTS.values():
        parameters = [
            {
                "name": p.name,
                "in": "query",
                "required": p.required,
                "description": p.help,
                "schema": {"type": "array", "items": {"type": "string"}}
                if p.many
                else {"type": "boolean" if p.kind is FLAG else "string"},
            }
            for p in report.all_params
        ]
        if report.formats:
            text = f"{' or '.join(report.formats)} (default {report.formats[-1]})"
        else:
            text = f"any ClickHouse output format (default {API_FORMAT})"
        parameters.append(_format_parameter(text))
        paths[f"/api/reports/{report.name}"] = {
            "get": {
                "summary": report.help,
                "parameters": parameters,
                "responses": _RESPONSES,
            }
        }
    return paths


def _format_parameter(text: str) -> dict[str, Any]:
    return {"name": "format", "in": "query", "required": False, "description": text,
            "schema": {"type": "string"}}  # fmt: skip


_RESPONSES: dict[str, Any] = {
    "200": {"description": "the result in the format asked for, streamed"},
    "400": {
        "description": "bad input or a failed query: one line",
        "content": {
            "application/json": {
                "schema": {"type": "object", "properties": {"error": {"type": "string"}}}
            }
        },
    },
}
_SQL_PARAMETERS = [
    {"name": "query", "in": "query", "required": True, "schema": {"type": "string"},
     "description": "one SQL statement, run with readonly=1; its FORMAT clause wins"},
    _format_parameter("any ClickHouse output format (default JSON)"),
    {"name": "param_NAME", "in": "query", "required": False, "schema": {"type": "string"},
     "description": "the value of the query parameter {NAME:Type}, as ClickHouse reads it"},
]  # fmt: skip
READ_OPENAPI: dict[str, Any] = {
    "/api/sql": {
        "get": {"summary": "run one read-only SQL query", "parameters": _SQL_PARAMETERS,
                "responses": _RESPONSES},
        "post": {"summary": "run one read-only SQL query given as a form (a long query)",
                 "requestBody": {"content": {"application/x-www-form-urlencoded": {
                     "schema": {"type": "object", "properties": {
                         "query": {"type": "string"}, "format": {"type": "string"}}}}}},
                 "responses": _RESPONSES},
    },
    **_report_parameters(),
}  # fmt: skip
