"""The hint for a report on a target the index has never seen.

Such a report is empty, and rightly so (exit 0); a misspelt domain looks just the same, so the
command says on stderr, in one line, that the index holds no page of it and no link to it.
"""

from __future__ import annotations

from typing import Any

from crawler.reports.model import Values
from crawler.reports.values import Target

# scope -> (pages column, links column) naming the target
COLUMNS = {
    "domain": ("domain", "dst_domain"),
    "host": ("host", "dst_host"),
    "url": ("url", "dst_url"),
}


def known_query(values: Values) -> tuple[str, dict[str, Any], str] | None:
    """(SQL counting whether the index has seen the report's target, its parameters, the
    target as said), or None for a report without one."""
    target = values.get("target")
    if isinstance(target, Target):
        scope, name = target.scope, target.value
    elif isinstance(values.get("domain"), str):
        scope, name = "domain", values["domain"]
    else:
        return None
    page, link = COLUMNS[scope]
    sql = (
        f"SELECT (SELECT count() FROM (SELECT 1 FROM pages WHERE {page} = {{name:String}} "
        f"LIMIT 1)) + (SELECT count() FROM (SELECT 1 FROM links WHERE {link} = {{name:String}} "
        "LIMIT 1))"
    )
    return sql, {"name": name}, f"{scope} {name}"


def unknown_hint(what: str) -> str:
    return (
        f"linkgraph: the index holds no page of {what} and no link to it: check its spelling "
        "(the report is empty)"
    )
