"""SQL the operator writes (`--where` of export and disavow), checked to be one condition, and
the string literal that the re-crawl's queries still inline. Report parameters are checked by
crawler/reports and sent to ClickHouse as server-side parameters instead."""

from __future__ import annotations

from crawler.errors import UsageError


def literal(value: str) -> str:
    """A ClickHouse string literal (quotes and backslashes escaped)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def where_expression(text: str) -> str:
    """An operator's SQL condition, parenthesised so it cannot change the query around it."""
    depth = 0
    quote = ""
    for ch in text:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"`":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth < 0:
                break
        elif ch == ";":
            depth = -1
            break
    if depth != 0 or quote or not text.strip():
        raise UsageError(f"--where {text!r} is not one SQL condition")
    return f"({text})"
