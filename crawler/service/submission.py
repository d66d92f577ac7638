"""A job submission as the API receives it (JSON), checked into what crawler/run.py takes:
setting name -> typed value, as `linkgraph crawl`'s flags give (crawler/cli/jobflags.py), and
canonical seed URLs. Bad input is a UsageError naming the field, in one line.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from crawler.errors import UsageError
from crawler.jobspec import FIELDS, NOT_BY_SET
from crawler.setting_values import check_value
from crawler.urls import dns_name

# spec fields the service decides: the job's name, its index, and what the seeds give
NOT_IN_SPEC = {
    "job": 'the "job" of the request',
    "clickhouse_url": "the service's --clickhouse",
    "database": "the service's --clickhouse or --database",
    "seed_domains": 'the "seeds"',
}
SPEC_FIELDS = {attr: name for name, attr in FIELDS.items()}  # spec field -> setting


def given_settings(spec: Any) -> dict[str, Any]:
    """Setting name -> checked value, from a spec of JobSpec field names (and "settings":
    other settings by name, as `-s NAME=VALUE` gives them)."""
    if not isinstance(spec, Mapping):
        raise UsageError("spec: give an object of job spec fields")
    given: dict[str, Any] = {}
    for attr, value in spec.items():
        if attr in NOT_IN_SPEC:
            raise UsageError(f"spec.{attr}: set by {NOT_IN_SPEC[attr]}")
        if attr == "settings":
            given.update(_other_settings(value))
            continue
        if attr not in SPEC_FIELDS:
            raise UsageError(f"spec.{attr}: no such job spec field (see crawler/jobspec.py)")
        given[SPEC_FIELDS[attr]] = check_value(SPEC_FIELDS[attr], value, f"spec.{attr}")
    if "LINKGRAPH_HOSTS" in given:
        given["LINKGRAPH_HOSTS"] = _hosts(given["LINKGRAPH_HOSTS"])
    return given


def _other_settings(values: Any) -> dict[str, Any]:
    if not isinstance(values, Mapping):
        raise UsageError("spec.settings: give an object of setting names and values")
    given = {}
    for name, value in values.items():
        where = f"spec.settings.{name}"
        if name in NOT_BY_SET or name in FIELDS:
            raise UsageError(f"{where}: give it as a spec field or request field instead")
        if not _known(name):
            raise UsageError(f"{where}: no setting {name} in crawler/settings.py or Scrapy's")
        given[name] = check_value(name, value, where)
    return given


def _known(name: str) -> bool:
    from scrapy.settings import default_settings

    from crawler import settings as defaults

    return name.isupper() and (hasattr(defaults, name) or hasattr(default_settings, name))


def _hosts(mapping: dict[str, Any]) -> dict[str, str]:
    hosts = {}
    for name, address in mapping.items():
        try:
            ipaddress.ip_address(address)
        except (TypeError, ValueError):
            raise UsageError(f"spec.hosts.{name}: {address!r} is not an IP address") from None
        hosts[dns_name(name)] = str(address)
    return hosts
