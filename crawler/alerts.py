"""Alerts: after a re-crawl, the new and lost referring domains of the job's watched domains
(the `refdomain_changes` view), POSTed as JSON to the job's webhook (crawler/webhook.py: one
retry, public addresses only unless the job allows private ones, no redirects).

A POST that still fails is reported in one line and changes nothing else: the re-crawl and its
rows stand. (The service keeps such an alert and tries again: crawler/service/pending_alerts.py.)
Lines name the webhook by its origin only: a receiver's secret is often in its path.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from crawler.jobspec import JobSpec
from crawler.recrawls import Rows, base_job
from crawler.webhook import RETRY_SECONDS, TIMEOUT_SECONDS, origin, post_json

EVENT = "refdomain_changes"
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
        return counts(self.to_json())


def counts(body: Mapping[str, Any]) -> str:
    """What an alert's JSON says, in short: `domain +new -lost` for each domain."""
    return ", ".join(f"{d['domain']} +{len(d['new'])} -{len(d['lost'])}" for d in body["domains"])


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


async def post_alert(
    url: str, alert: Alert, *, allow_private: bool, timeout: float = TIMEOUT_SECONDS,
    retry_after: float = RETRY_SECONDS,
) -> str:  # fmt: skip
    """POST `alert` to `url`, retried once; "" when the receiver took it, else why not."""
    body = json.dumps(alert.to_json()).encode()
    return await post_json(url, body, allow_private=allow_private, timeout=timeout,
                           retry_after=retry_after)  # fmt: skip


@dataclass(frozen=True)
class AlertReport:
    """What became of a re-crawl's alert, in one line for the operator."""

    line: str = ""  # "": the job has no webhook
    failed: bool = False


async def composed_alert(rows: Rows, job: str, config: AlertConfig) -> tuple[Alert | None, str]:
    """The alert of re-crawl `job` to post; or None, and the line saying why there is none ("":
    the job has no webhook). The index is read in a thread: `rows` blocks."""
    if not config.webhook:
        return None, ""
    if not config.watch_domains:
        shown = origin(config.webhook)
        return None, f"job {job}: no watched domains (--watch-domain): no alert to {shown}"
    alert = await asyncio.to_thread(refdomain_alert, rows, job, config.watch_domains)
    if not alert.domains:
        return None, (f"job {job}: the watched domains gained and lost no referring domain: "
                      "no alert")  # fmt: skip
    return alert, ""


def delivery_report(job: str, webhook: str, body: Mapping[str, Any], failed: str) -> AlertReport:
    """What became of the POST of an alert (`body`, its JSON): `failed` says why not, or ""."""
    if failed:
        return AlertReport(f"job {job}: the alert to {origin(webhook)} failed: {failed}", True)
    return AlertReport(f"job {job}: alert sent to {origin(webhook)}: {counts(body)}")


async def alert_after_recrawl(rows: Rows, job: str, config: AlertConfig) -> AlertReport:
    """Post the alert of re-crawl `job`, if it has a webhook and the watched domains changed."""
    alert, line = await composed_alert(rows, job, config)
    if alert is None:
        return AlertReport(line)
    failed = await post_alert(config.webhook, alert, allow_private=config.allow_private)
    return delivery_report(job, config.webhook, alert.to_json(), failed)


def send_alert(rows: Rows, job: str, config: AlertConfig) -> AlertReport:
    """alert_after_recrawl for a command: in an event loop of its own."""
    return asyncio.run(alert_after_recrawl(rows, job, config))
