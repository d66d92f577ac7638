"""The job spec: every setting a crawl job's workers must share, saved with the job in Redis.

Each field names its setting in crawler/settings.py and takes its default from there (that list
says what each one means). The CLI checks flags and `-s NAME=VALUE` into typed values before
anything starts (crawler/cli/jobflags.py); a resume merges only those into the saved spec.
What one process does on its own (data dir, log level, progress, local workers) is not here.

A ClickHouse URL is saved with its password replaced by `***`: a worker that needs the secret
gets it from its own `--clickhouse` or `$LINKGRAPH_CLICKHOUSE_URL`.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from crawler import settings as defaults
from crawler.errors import UsageError
from crawler.setting_values import default_of
from crawler.urls import host_of, registered_domain

HIDDEN = "***"  # what a saved URL holds instead of its password


def _setting(name: str) -> Any:
    """A spec field for setting `name`, with the default crawler/settings.py gives it."""
    default = getattr(defaults, name)
    meta = {"setting": name}
    if isinstance(default, list | dict):
        return field(default_factory=lambda: copy.deepcopy(default), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class JobSpec:
    """What every worker of a job must agree on; see crawler/settings.py for the meanings."""

    job: str = _setting("LINKGRAPH_JOB")
    clickhouse_url: str = _setting("LINKGRAPH_CLICKHOUSE_URL")  # password hidden
    database: str = _setting("LINKGRAPH_DATABASE")
    delay: float = _setting("LINKGRAPH_DELAY")
    max_delay: float = _setting("LINKGRAPH_MAX_DELAY")
    priority: str = _setting("LINKGRAPH_PRIORITY")
    lease_seconds: float = _setting("LINKGRAPH_LEASE_SECONDS")
    retry_times: int = _setting("LINKGRAPH_RETRY_TIMES")
    retry_backoff: float = _setting("LINKGRAPH_RETRY_BACKOFF")
    max_retry_after: float = _setting("LINKGRAPH_MAX_RETRY_AFTER")
    slow_seconds: float = _setting("LINKGRAPH_SLOW_SECONDS")
    park_after: int = _setting("LINKGRAPH_PARK_AFTER")
    park_seconds: float = _setting("LINKGRAPH_PARK_SECONDS")
    drop_after: int = _setting("LINKGRAPH_DROP_AFTER")
    max_pages: int = _setting("LINKGRAPH_MAX_PAGES")
    max_pages_per_host: int = _setting("LINKGRAPH_MAX_PAGES_PER_HOST")
    frontier_partitions: int = _setting("LINKGRAPH_FRONTIER_PARTITIONS")
    dedupe: str = _setting("LINKGRAPH_DEDUPE")
    bloom_capacity: int = _setting("LINKGRAPH_BLOOM_CAPACITY")
    bloom_error_rate: float = _setting("LINKGRAPH_BLOOM_ERROR_RATE")
    max_depth: int = _setting("LINKGRAPH_MAX_DEPTH")
    follow_links: bool = _setting("LINKGRAPH_FOLLOW_LINKS")
    scope: str = _setting("LINKGRAPH_SCOPE")
    seed_domains: list[str] = _setting("LINKGRAPH_SEED_DOMAINS")  # noqa: RUF009 (a field)
    allow_domains: list[str] = _setting("LINKGRAPH_ALLOW_DOMAINS")  # noqa: RUF009 (a field)
    deny_domains: list[str] = _setting("LINKGRAPH_DENY_DOMAINS")  # noqa: RUF009 (a field)
    max_url_length: int = _setting("LINKGRAPH_MAX_URL_LENGTH")
    max_segment_repeats: int = _setting("LINKGRAPH_MAX_SEGMENT_REPEATS")
    allow_private: bool = _setting("LINKGRAPH_ALLOW_PRIVATE")
    hosts: dict[str, str] = _setting("LINKGRAPH_HOSTS")  # noqa: RUF009 (--hosts-file's, read)
    robots_ttl: float = _setting("LINKGRAPH_ROBOTS_TTL")
    robots_max_redirects: int = _setting("LINKGRAPH_ROBOTS_MAX_REDIRECTS")
    robots_max_bytes: int = _setting("LINKGRAPH_ROBOTS_MAX_BYTES")
    follow_link_types: list[str] = _setting("LINKGRAPH_FOLLOW_LINK_TYPES")  # noqa: RUF009 (a field)
    sitemaps: str = _setting("LINKGRAPH_SITEMAPS")
    max_sitemaps_per_host: int = _setting("LINKGRAPH_MAX_SITEMAPS_PER_HOST")
    seed_sitemaps: list[str] = _setting("LINKGRAPH_SEED_SITEMAPS")  # noqa: RUF009 (a field)
    max_links_recorded: int = _setting("LINKGRAPH_MAX_LINKS_RECORDED")
    max_links_followed: int = _setting("LINKGRAPH_MAX_LINKS_FOLLOWED")
    max_link_url_length: int = _setting("LINKGRAPH_MAX_LINK_URL_LENGTH")
    max_anchor_length: int = _setting("LINKGRAPH_MAX_ANCHOR_LENGTH")
    max_header_bytes: int = _setting("LINKGRAPH_MAX_HEADER_BYTES")
    max_nesting: int = _setting("LINKGRAPH_MAX_NESTING")
    parse_seconds: float = _setting("LINKGRAPH_PARSE_SECONDS")
    max_sitemap_urls: int = _setting("LINKGRAPH_MAX_SITEMAP_URLS")
    max_sitemap_bytes: int = _setting("LINKGRAPH_MAX_SITEMAP_BYTES")
    recrawl_every: float = _setting("LINKGRAPH_RECRAWL_EVERY")
    watch_domains: list[str] = _setting("LINKGRAPH_WATCH_DOMAINS")  # noqa: RUF009 (a field)
    alert_webhook: str = _setting("LINKGRAPH_ALERT_WEBHOOK")
    user_agent: str = _setting("USER_AGENT")
    # `-s NAME=VALUE` of any other setting (Scrapy's or a per-process one), typed
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def embedded(self) -> bool:
        """True: the index is the coordinator's chDB, and workers hand their rows to it."""
        return not self.clickhouse_url

    def scrapy_settings(self) -> dict[str, Any]:
        """NAME -> value of every setting the spec decides."""
        values = {f.metadata["setting"]: getattr(self, f.name) for f in fields(self) if f.metadata}
        return {**values, **self.settings}

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str | bytes) -> JobSpec:
        saved = json.loads(text)
        return cls(**{f.name: saved[f.name] for f in fields(cls) if f.name in saved})

    def updated(self, given: Mapping[str, Any]) -> tuple[JobSpec, list[str]]:
        """This spec with the `given` settings (NAME -> checked value), and what changed."""
        changes, values, others = [], {}, dict(self.settings)
        for name, value in given.items():
            attr = FIELDS.get(name)
            old = getattr(self, attr) if attr else self.settings.get(name, default_of(name))
            if value != old:
                changes.append(f"{attr or name} {_show(old)} -> {_show(value)}")
            if attr:
                values[attr] = value
            else:
                others[name] = value
        return replace(self, **values, settings=others), changes


# setting name -> spec field
FIELDS: dict[str, str] = {f.metadata["setting"]: f.name for f in fields(JobSpec) if f.metadata}
# Settings that only a flag or linkgraph itself sets, never `-s` (what to use instead).
NOT_BY_SET = {
    "LINKGRAPH_JOB": "--job",
    "LINKGRAPH_CLICKHOUSE_URL": "--clickhouse",
    "LINKGRAPH_DATABASE": "--database",
    "LINKGRAPH_DATA_DIR": "--data-dir",
    "REDIS_URL": "--redis",
    "LINKGRAPH_SEEDS": "seed URLs or --seeds-file",
    "LINKGRAPH_HOSTS_FILE": "--hosts-file",
    "LINKGRAPH_WARC_DIR": "--warc",
    "LOG_LEVEL": "-v/--verbose",
    "LINKGRAPH_HANDOFF": "`linkgraph worker`, which sets it",
    "LINKGRAPH_RETURN_LEASES_AT_START": "nothing: linkgraph returns the leases itself",
}


def _show(value: Any) -> str:
    if isinstance(value, dict | list) and len(value) > 4:
        return f"({len(value)} entries)"
    return str(value) if isinstance(value, int | float) else repr(value)


def seed_domains(seeds: Iterable[str]) -> list[str]:
    return sorted({registered_domain(host_of(url)) for url in seeds})


def hide_password(url: str) -> str:
    """`url` with its password, if any, replaced by `***` (for logs and the saved spec)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username or ''}:{HIDDEN}@{parts.netloc.rpartition('@')[2]}"
    return urlunsplit(parts._replace(netloc=netloc))


def index_url(spec: JobSpec, own_url: str) -> str:
    """The ClickHouse URL this process writes the job's rows to: its own (flag or environment),
    else the saved one when that needs no secret."""
    if spec.embedded:
        return ""
    if own_url:
        return own_url
    if urlsplit(spec.clickhouse_url).password is not None:
        raise UsageError(
            f"job {spec.job!r} writes to ClickHouse at {spec.clickhouse_url}: give --clickhouse "
            "URL (or $LINKGRAPH_CLICKHOUSE_URL) with its password"
        )
    return spec.clickhouse_url
