"""Arguments the link-index reports share: targets (domain, host or URL), backlink filters,
dates, and operator-written `--where` expressions, each turned into SQL with values quoted."""

from __future__ import annotations

import argparse
from datetime import datetime, timezone

from crawler.errors import UsageError
from crawler.urls import canonicalize, host_of, registered_domain


def literal(value: str) -> str:
    """A ClickHouse string literal (quotes and backslashes escaped)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def bind(sql: str, params: dict[str, str]) -> str:
    """Inline `{name}` parameters as string literals."""
    for name, value in params.items():
        sql = sql.replace("{" + name + "}", literal(value))
    return sql


def target_filter(text: str) -> tuple[str, dict[str, str]]:
    """Filter on dst_url for a URL (anything with a scheme), dst_domain for a registered domain,
    dst_host for any other host name."""
    if "://" in text:
        url = canonicalize(text.strip())
        if url is None:
            raise UsageError(f"{text!r} is not an absolute http(s) URL")
        return "dst_url = {target}", {"target": url}
    url = canonicalize(f"http://{text.strip()}/")
    if url is None:
        raise UsageError(f"{text!r} is not a domain or host name")
    host = host_of(url)
    if registered_domain(host) == host:
        return "dst_domain = {target}", {"target": host}
    return "dst_host = {target}", {"target": host}


def domain_arg(text: str) -> str:
    """A registered domain as the index spells it (lowercase, punycode)."""
    url = canonicalize(f"http://{text.strip()}/") if "://" not in text else None
    host = host_of(url) if url else ""
    if not host:
        raise UsageError(f"{text!r} is not a domain name")
    if registered_domain(host) != host:
        raise UsageError(f"{text!r} is a host name: give its registered domain, "
                         f"{registered_domain(host)}")  # fmt: skip
    return host


def parse_date(text: str) -> datetime:
    """YYYY-MM-DD or an ISO 8601 date-time; without a zone it is UTC."""
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a date: use YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.astimezone(timezone.utc)


def time_literal(when: datetime) -> str:
    stamp = when.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
    return f"toDateTime64('{stamp}', 3, 'UTC')"


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


def add_backlink_filters(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("backlink filters")
    kind = g.add_mutually_exclusive_group()
    kind.add_argument("--follow", action="store_true", help="only followed backlinks")
    kind.add_argument("--nofollow", action="store_true", help="only backlinks that pass no "
                      "authority (nofollow, ugc, sponsored or on a nofollow page)")  # fmt: skip
    g.add_argument("--ugc", action="store_true", help="only backlinks marked rel=ugc")
    g.add_argument("--sponsored", action="store_true", help="only backlinks marked rel=sponsored")
    g.add_argument("--anchor", metavar="TEXT", help="only backlinks seen with this anchor text")
    g.add_argument("--page", metavar="URL", help="only backlinks to this target page")
    for name, text in (
        ("--first-seen-after", "first seen at or after DATE"),
        ("--first-seen-before", "first seen before DATE"),
        ("--last-seen-after", "last seen at or after DATE"),
        ("--last-seen-before", "last seen before DATE"),
    ):
        g.add_argument(name, type=parse_date, metavar="DATE", help=text)


def backlink_conditions(args: argparse.Namespace) -> list[str]:
    """SQL conditions over `backlinks` columns from the filter flags (values inlined)."""
    conditions = []
    if args.follow:
        conditions.append("follow = 1")
    if args.nofollow:
        conditions.append("follow = 0")
    if args.ugc:
        conditions.append("ugc = 1")
    if args.sponsored:
        conditions.append("sponsored = 1")
    if args.anchor is not None:
        conditions.append(f"has(anchors, {literal(args.anchor)})")
    if args.page is not None:
        url = canonicalize(args.page)
        if url is None:
            raise UsageError(f"--page {args.page!r} is not an absolute http(s) URL")
        conditions.append(f"dst_url = {literal(url)}")
    for attr, column, op in (
        ("first_seen_after", "first_seen", ">="),
        ("first_seen_before", "first_seen", "<"),
        ("last_seen_after", "last_seen", ">="),
        ("last_seen_before", "last_seen", "<"),
    ):
        when = getattr(args, attr)
        if when is not None:
            conditions.append(f"{column} {op} {time_literal(when)}")
    return conditions
