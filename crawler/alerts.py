"""Alerts: after a re-crawl, the new and lost referring domains of the job's watched domains
(the `refdomain_changes` view), POSTed as JSON to the job's webhook.

The POST is made once more after a failure (no answer in time, a refused connection, a status
other than 2xx); a POST that still fails is reported in one line and changes nothing else: the
re-crawl and its rows stand. The webhook's address is held to the job's rule for pages: unless
the job allows private addresses (`--allow-private`), one that is not public is refused. The
check is in aiohttp's resolver (below), so the addresses checked are those connected to, and
redirects are not followed. Lines name the webhook by its origin only: a receiver's secret is
often in its path.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import os
import socket
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from crawler.jobspec import JobSpec
from crawler.recrawls import Rows, base_job
from crawler.resolver import is_public

EVENT = "refdomain_changes"
TIMEOUT_SECONDS = 10.0  # one POST: connecting, sending, and the receiver's answer
RETRY_SECONDS = 2.0  # before the one retry
CHANGES_SQL = (
    "SELECT dst_domain, change, src_domain, backlinks, at, reasons FROM refdomain_changes "
    "WHERE job = {job:String} AND dst_domain IN {domains:Array(String)} "
    "ORDER BY dst_domain, change, src_domain"
)


@dataclass(frozen=True)
class AlertConfig:
    """Where a job's alerts go, and about which domains."""

    webhook: str = ""
    watch_domains: tuple[str, ...] = ()
    allow_private: bool = False

    @classmethod
    def of(cls, spec: JobSpec) -> AlertConfig:
        return cls(spec.alert_webhook, tuple(spec.watch_domains), spec.allow_private)

    @classmethod
    def from_settings(cls, given: Mapping[str, Any]) -> AlertConfig:
        """Of a new job's settings (name -> checked value); the defaults for the others."""
        spec, _ = JobSpec().updated(given)
        return cls.of(spec)


@dataclass(frozen=True)
class RefdomainChange:
    src_domain: str
    backlinks: int  # its live backlinks after it was new, before it was lost
    at: datetime
    reasons: tuple[str, ...] = ()  # why its backlinks were lost (see `lost_links`)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"src_domain": self.src_domain, "backlinks": self.backlinks,
                               "at": _iso(self.at)}  # fmt: skip
        if self.reasons:
            out["reasons"] = list(self.reasons)
        return out


@dataclass(frozen=True)
class DomainChanges:
    domain: str
    new: tuple[RefdomainChange, ...] = ()
    lost: tuple[RefdomainChange, ...] = ()


@dataclass(frozen=True)
class Alert:
    """What one re-crawl changed in the referring domains of the watched domains that changed."""

    job: str
    domains: tuple[DomainChanges, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "event": EVENT,
            "job": self.job,
            "recrawl_of": base_job(self.job),
            "domains": [
                {"domain": d.domain, "new": [c.to_json() for c in d.new],
                 "lost": [c.to_json() for c in d.lost]}
                for d in self.domains
            ],
        }  # fmt: skip

    def counts(self) -> str:
        return ", ".join(f"{d.domain} +{len(d.new)} -{len(d.lost)}" for d in self.domains)


def _iso(when: datetime) -> str:
    aware = when if when.tzinfo else when.replace(tzinfo=timezone.utc)
    utc = aware.astimezone(timezone.utc)
    return utc.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def refdomain_alert(rows: Rows, job: str, watched: tuple[str, ...]) -> Alert:
    """The referring domains `job` gained and lost for each of the `watched` domains."""
    found: dict[str, dict[str, list[RefdomainChange]]] = {}
    for dst, change, src, backlinks, at, reasons in rows(
        CHANGES_SQL, {"job": job, "domains": list(watched)}
    ):
        kinds = found.setdefault(dst, {"new": [], "lost": []})
        kinds[change].append(RefdomainChange(src, int(backlinks), at, tuple(reasons)))
    return Alert(job, tuple(DomainChanges(d, tuple(k["new"]), tuple(k["lost"]))
                            for d, k in sorted(found.items())))  # fmt: skip


class RefusedWebhook(OSError):
    """The webhook's address is not public and the job does not allow private ones."""


class GuardedResolver(AbstractResolver):
    """The system's answers, refused when one is not a public address."""

    def __init__(self) -> None:
        self._resolver = DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        found = await self._resolver.resolve(host, port, family)
        refused = [r["host"] for r in found if not is_public(r["host"])]
        if refused:
            raise RefusedWebhook(f"{host} resolves to {refused[0]}, not a public address")
        return found

    async def close(self) -> None:
        await self._resolver.close()


def _refused_literal(url: str) -> str:
    """Why a URL's IP-literal host is refused (aiohttp resolves no literal); "" if it is not."""
    host = urlsplit(url).hostname or ""
    try:
        address = str(ipaddress.ip_address(host))
    except ValueError:
        return ""
    return "" if is_public(address) else f"{address} is not a public address"


async def post_alert(
    url: str, alert: Alert, *, allow_private: bool, timeout: float = TIMEOUT_SECONDS,
    retry_after: float = RETRY_SECONDS,
) -> str:  # fmt: skip
    """POST `alert` to `url`, retried once; "" when the receiver took it, else why not."""
    if not allow_private and (refused := _refused_literal(url)):
        return f"{refused} (allow one with --allow-private)"
    body = json.dumps(alert.to_json()).encode()
    headers = {"Content-Type": "application/json"}
    connector = aiohttp.TCPConnector(resolver=None if allow_private else GuardedResolver())
    why = ""
    async with aiohttp.ClientSession(
        connector=connector, timeout=aiohttp.ClientTimeout(total=timeout)
    ) as session:
        for attempt in range(2):
            if attempt:
                await asyncio.sleep(retry_after)
            try:
                async with session.post(url, data=body, headers=headers,
                                        allow_redirects=False) as response:  # fmt: skip
                    if 200 <= response.status < 300:
                        return ""
                    why = f"HTTP {response.status}"
            except aiohttp.ClientConnectorError as exc:
                if isinstance(exc.os_error, RefusedWebhook):
                    return f"{exc.os_error} (allow one with --allow-private)"
                why = _not_connected(exc.os_error)
            except asyncio.TimeoutError:
                why = f"no answer in {timeout:g}s"
            except aiohttp.ClientError as exc:
                why = str(exc) or type(exc).__name__
    return why


def _not_connected(error: OSError) -> str:
    if isinstance(error, socket.gaierror | ssl.SSLError):
        return error.strerror or str(error)
    if error.errno and error.errno > 0:  # asyncio's text names the address, not the error
        return os.strerror(error.errno)
    return str(error) or type(error).__name__


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"


@dataclass(frozen=True)
class AlertReport:
    """What became of a re-crawl's alert, in one line for the operator."""

    line: str = ""  # "": the job has no webhook
    failed: bool = False


async def alert_after_recrawl(rows: Rows, job: str, config: AlertConfig) -> AlertReport:
    """Post the alert of re-crawl `job`, if it has a webhook and the watched domains changed.
    The index is read in a thread: `rows` blocks."""
    if not config.webhook:
        return AlertReport()
    shown = _origin(config.webhook)
    if not config.watch_domains:
        return AlertReport(f"job {job}: no watched domains (--watch-domain): no alert to {shown}")
    alert = await asyncio.to_thread(refdomain_alert, rows, job, config.watch_domains)
    if not alert.domains:
        return AlertReport(f"job {job}: the watched domains gained and lost no referring domain: "
                           "no alert")  # fmt: skip
    failed = await post_alert(config.webhook, alert, allow_private=config.allow_private)
    if failed:
        return AlertReport(f"job {job}: the alert to {shown} failed: {failed}", failed=True)
    return AlertReport(f"job {job}: alert sent to {shown}: {alert.counts()}")


def send_alert(rows: Rows, job: str, config: AlertConfig) -> AlertReport:
    """alert_after_recrawl for a command: in an event loop of its own."""
    return asyncio.run(alert_after_recrawl(rows, job, config))
