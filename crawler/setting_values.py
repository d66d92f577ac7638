"""Setting values from text (`-s NAME=VALUE`, a flag), typed by the setting's default.

A setting's type is that of its default in crawler/settings.py, else in Scrapy's defaults. The
LINKGRAPH_* numbers are all counts, sizes or durations, so none may be negative.
"""

from __future__ import annotations

import json
from typing import Any

from crawler import settings as defaults
from crawler.errors import UsageError

SITEMAP_MODES = ("robots", "all", "none")  # LINKGRAPH_SITEMAPS


def default_of(name: str) -> Any:
    from scrapy.settings import default_settings

    return getattr(defaults, name, getattr(default_settings, name, None))


def check_value(name: str, value: Any, where: str) -> Any:
    """`value` for setting `name` as that setting's type, or a UsageError naming `where`."""
    default = default_of(name)
    try:
        if isinstance(value, str) and not isinstance(default, str | type(None)):
            value = _parse(value, default, strict=name.startswith("LINKGRAPH_"))
        else:
            value = _coerce(value, default)
        numeric = isinstance(value, int | float) and not isinstance(value, bool)
        if name.startswith("LINKGRAPH_") and numeric and not 0 <= value < float("inf"):
            raise ValueError(f"{value:g} is negative" if value < 0 else f"{value} is not finite")
        if name == "LINKGRAPH_FRONTIER_PARTITIONS" and not 1 <= value <= 1024:
            raise ValueError(f"{value} is not between 1 and 1024")
        if name in ("LINKGRAPH_DEDUPE", "LINKGRAPH_BLOOM_CAPACITY", "LINKGRAPH_BLOOM_ERROR_RATE"):
            _dedupe(name, value)
        if name == "LINKGRAPH_SCOPE" and value not in _scopes():
            raise ValueError(f"{value!r} is not one of {', '.join(_scopes())}")
        if name == "LINKGRAPH_FOLLOW_LINK_TYPES":
            _link_types(value)
        if name == "LINKGRAPH_SITEMAPS" and value not in SITEMAP_MODES:
            raise ValueError(f"{value!r} is not one of {', '.join(SITEMAP_MODES)}")
        if name == "LINKGRAPH_PRIORITY":
            _importable(value)
        if name == "LINKGRAPH_PROXY" and value and not value.startswith(("http://", "https://")):
            raise ValueError("give a proxy as http://[user:password@]host:port")
        if name == "LINKGRAPH_WATCH_DOMAINS":
            value = _registered_domains(value)
        if name == "LINKGRAPH_ALERT_WEBHOOK" and value:
            _http_url(value)
    except ValueError as exc:
        raise UsageError(f"{where}: {exc}") from None
    return value


def _parse(text: str, default: Any, *, strict: bool) -> Any:
    if isinstance(default, bool):
        lowered = text.strip().lower()
        if lowered not in ("1", "0", "true", "false"):
            raise ValueError(f"{text!r} is not true or false")
        return lowered in ("1", "true")
    if isinstance(default, int):
        try:
            return int(text)
        except ValueError:
            if strict:
                raise ValueError(f"{text!r} is not a whole number") from None
        # Scrapy's own int defaults (DOWNLOAD_TIMEOUT = 180) take fractions too
        return _parse(text, 0.0, strict=strict)
    if isinstance(default, float):
        try:
            return float(text)
        except ValueError:
            raise ValueError(f"{text!r} is not a number") from None
    if isinstance(default, list | tuple):
        if text.lstrip().startswith("["):
            return _json(text, list)
        return [item.strip() for item in text.split(",") if item.strip()]
    if isinstance(default, dict):
        return _json(text, dict)
    return text


def _json(text: str, kind: type) -> Any:
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if not isinstance(value, kind):
        raise ValueError(f"{text!r} is not a JSON {'list' if kind is list else 'object'}")
    return value


def _coerce(value: Any, default: Any) -> Any:
    """A value already parsed, as the type of the setting (an int is a fine float)."""
    if default is None or isinstance(value, type(default)):
        return value
    if isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(default, list | tuple) and isinstance(value, list | tuple):
        return list(value)
    raise ValueError(f"{value!r} is not of type {type(default).__name__}")


def _importable(path: str) -> None:
    from scrapy.utils.misc import load_object

    try:
        load_object(path)
    except (ImportError, AttributeError, ValueError, NameError) as exc:
        raise ValueError(f"cannot import {path!r}: {exc}") from None


def _dedupe(name: str, value: Any) -> None:
    from crawler.frontier.bloom import check_setting

    check_setting(name, value)


def _scopes() -> tuple[str, ...]:
    from crawler.scope import SCOPES

    return SCOPES


def _link_types(value: list[str]) -> None:
    from crawler.items import LINK_TYPES

    unknown = [kind for kind in value if kind not in LINK_TYPES]
    if unknown:
        raise ValueError(f"{unknown[0]!r} is not a link type ({', '.join(LINK_TYPES)})")


def _registered_domains(value: list[str]) -> list[str]:
    from crawler.reports.values import parse_domain

    try:
        return sorted({parse_domain(str(name)) for name in value})
    except UsageError as exc:
        raise ValueError(str(exc)) from None


def _http_url(value: str) -> None:
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(value)
        ok = parts.scheme in ("http", "https") and bool(parts.hostname) and parts.port != 0
    except ValueError:  # a bad port or IPv6 literal
        ok = False
    if not ok:
        raise ValueError(f"{value!r} is not an http(s) URL")
