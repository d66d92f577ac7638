"""The kinds of value a report parameter takes, each checked the same way from the command line
and from any other caller: a target (domain, host or URL), a registered domain, a date, a count,
a URL, a text, a flag. A bad value is a UsageError of one line."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from crawler.errors import UsageError
from crawler.urls import canonicalize, host_of, registered_domain

SCOPES = ("domain", "host", "url")


@dataclass(frozen=True, slots=True)
class Target:
    """What a report is about: a registered domain, one host, or one page (`scope`), spelled as
    the index spells it (`value`), and the registered domain it belongs to (`domain`)."""

    scope: str
    value: str
    domain: str


def parse_target(text: str) -> Target:
    """A URL (anything with a scheme) is a page; a registered domain is a domain; any other host
    name is a host."""
    if "://" in text:
        url = canonicalize(text.strip())
        if url is None:
            raise UsageError(f"{text!r} is not an absolute http(s) URL")
        return Target("url", url, registered_domain(host_of(url)))
    url = canonicalize(f"http://{text.strip()}/")
    if url is None:
        raise UsageError(f"{text!r} is not a domain or host name")
    host = host_of(url)
    domain = registered_domain(host)
    return Target("domain" if domain == host else "host", host, domain)


def parse_domain(text: str) -> str:
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
        raise UsageError(f"{text!r} is not a date: use YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.astimezone(timezone.utc)


def parse_count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise UsageError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise UsageError(f"{value} is negative")
    return value


def parse_url(text: str) -> str:
    url = canonicalize(text)
    if url is None:
        raise UsageError(f"{text!r} is not an absolute http(s) URL")
    return url


def parse_flag(text: str) -> bool:
    """A flag given as text (a query string's `?follow=true`)."""
    value = text.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise UsageError(f"{text!r} is not true or false")


def parse_link_type(text: str) -> str:
    """One of crawler/items.py's LINK_TYPES (text, image, canonical...)."""
    from crawler.items import LINK_TYPES

    value = text.strip().lower()
    if value not in LINK_TYPES:
        raise UsageError(f"{text!r} is not a link type: {', '.join(LINK_TYPES)}")
    return value


def utc_text(when: datetime) -> str:
    """A time as a `DateTime64(3, 'UTC')` parameter reads it."""
    return when.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


@dataclass(frozen=True, slots=True)
class Kind:
    """A kind of value: how text is checked (`parse`, which typed values pass untouched), how
    the value is named in help (`metavar`), and how it is sent to ClickHouse (`bind`)."""

    name: str
    metavar: str
    python_type: type
    parse: Callable[[str], Any]
    bind: Callable[[Any], Any] = lambda value: value

    def check(self, value: Any) -> Any:
        """`value` checked: text is parsed (parsing what was parsed changes nothing), a value
        of the kind's type passes."""
        if isinstance(value, str):
            return self.parse(value)
        if isinstance(value, self.python_type) and (
            self.python_type is bool or not isinstance(value, bool)
        ):
            return value
        raise UsageError(f"{value!r} is not a {self.name}")


TARGET = Kind("target", "TARGET", Target, parse_target, lambda t: t.value)
DOMAIN = Kind("domain", "DOMAIN", str, parse_domain)
DATE = Kind("date", "DATE", datetime, parse_date, utc_text)
COUNT = Kind("count", "N", int, parse_count)
URL = Kind("URL", "URL", str, parse_url)
TEXT = Kind("text", "TEXT", str, str)
FLAG = Kind("flag", "", bool, parse_flag)
LINK_TYPE = Kind("link type", "TYPE", str, parse_link_type)
