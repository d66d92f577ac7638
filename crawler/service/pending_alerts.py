"""The alerts of the service's re-crawls, kept in Redis until their webhook has taken them.

A re-crawl that the schedule starts (crawler/service/schedule.py) is noted before it starts,
with where its alert goes (frontier/keys.py `JobKeys.alert`, listed in ALERTS_KEY): a service
that stops or dies before the alert is delivered finds it there when it starts again, and sends
it then. The body is composed once, when the re-crawl has ended, and kept with the note, so every
try sends the same JSON. The note is dropped only once the webhook has answered 2xx, and what
was taken is never sent again, even if dropping the note failed (Redis away): the service
remembers it until the note is gone. A try cut off before the receiver's answer was read (the
process killed) is sent again; the body's `job` names the re-crawl, so a receiver can tell.

A webhook that still fails after its retry (crawler/webhook.py) is tried again RETRY_SECONDS
later, then twice as long each time up to MAX_RETRY_SECONDS, and at once when the service
starts again: the waits are not kept, the alerts are.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis

from crawler.alerts import AlertConfig, AlertReport, composed_alert, delivery_report
from crawler.frontier.keys import ALERTS_KEY, JobKeys
from crawler.recrawls import Rows
from crawler.webhook import post_json

logger = logging.getLogger(__name__)

RETRY_SECONDS = 60.0  # after a failed delivery, the next one; doubled after each failure...
MAX_RETRY_SECONDS = 3600.0  # ...up to this


@dataclass(frozen=True)
class PendingAlert:
    job: str  # the re-crawl
    config: AlertConfig
    body: dict[str, Any] | None = None  # its JSON, once composed


def keep(client: redis.Redis, job: str, config: AlertConfig) -> None:
    """Note that re-crawl `job` is to be alerted on as `config` says. The list of alerts lives
    in another hash slot than the job's keys, so it is written on its own, after."""
    fields = {"webhook": config.webhook, "watch_domains": json.dumps(list(config.watch_domains)),
              "allow_private": int(config.allow_private)}  # fmt: skip
    client.hset(JobKeys(job).alert, mapping=fields)  # type: ignore[arg-type]
    client.sadd(ALERTS_KEY, job)


def keep_body(client: redis.Redis, job: str, body: dict[str, Any]) -> None:
    client.hset(JobKeys(job).alert, "body", json.dumps(body))


def forget(client: redis.Redis, job: str) -> None:
    """Drop the note of `job`'s alert: it was delivered, or there is nothing to send."""
    client.delete(JobKeys(job).alert)
    client.srem(ALERTS_KEY, job)


def pending(client: redis.Redis) -> list[PendingAlert]:
    """Every alert not delivered yet, by job name."""
    names = sorted(m.decode() for m in client.smembers(ALERTS_KEY))  # type: ignore[union-attr]
    pipe = client.pipeline(transaction=False)
    for job in names:
        pipe.hgetall(JobKeys(job).alert)
    found, gone = [], []
    for job, raw in zip(names, pipe.execute(), strict=True):
        if not raw:  # forgotten, but for its name in the list
            gone.append(job)
            continue
        fields = {k.decode(): v.decode() for k, v in raw.items()}
        config = AlertConfig(fields.get("webhook", ""),
                             tuple(json.loads(fields.get("watch_domains") or "[]")),
                             fields.get("allow_private") == "1")  # fmt: skip
        body = json.loads(fields["body"]) if fields.get("body") else None
        found.append(PendingAlert(job, config, body))
    if gone:
        client.srem(ALERTS_KEY, *gone)
    return found


class PendingAlerts:
    """Sends the kept alerts of the re-crawls that have ended, until each is taken."""

    def __init__(self, client: redis.Redis, rows: Rows) -> None:
        self.client = client
        self.rows = rows  # the index's, to compose a body: blocks
        self.retry_at: dict[str, float] = {}  # job -> when its failed alert is tried again
        self.failures: dict[str, int] = {}  # job -> failed deliveries in a row
        self.taken: set[str] = set()  # taken by the webhook, its note not dropped yet

    async def deliver(self, ended: Callable[[str], bool]) -> list[AlertReport]:
        """Send the alert of every re-crawl that `ended` (blocking) says has ended."""
        reports = []
        for alert in await asyncio.to_thread(pending, self.client):
            if alert.job in self.taken:
                await asyncio.to_thread(forget, self.client, alert.job)
                self.taken.discard(alert.job)
                continue
            if time.time() < self.retry_at.get(alert.job, 0.0):
                continue
            if await asyncio.to_thread(ended, alert.job):
                reports.append(await self._send(alert))
        return reports

    async def _send(self, alert: PendingAlert) -> AlertReport:
        job, body = alert.job, alert.body
        if body is None:
            composed, line = await composed_alert(self.rows, job, alert.config)
            if composed is None:
                await asyncio.to_thread(forget, self.client, job)
                return AlertReport(line)
            body = composed.to_json()
            await asyncio.to_thread(keep_body, self.client, job, body)
        failed = await self._post(alert, body)
        report = delivery_report(job, alert.config.webhook, body, failed)
        if not failed:
            self.retry_at.pop(job, None)
            self.failures.pop(job, None)
            return report
        self.failures[job] = self.failures.get(job, 0) + 1
        wait = min(RETRY_SECONDS * 2 ** (self.failures[job] - 1), MAX_RETRY_SECONDS)
        self.retry_at[job] = time.time() + wait
        return AlertReport(f"{report.line}: kept, tried again in {wait:g}s and when the "
                           "service starts again", failed=True)  # fmt: skip

    async def _post(self, alert: PendingAlert, body: dict[str, Any]) -> str:
        try:
            return await post_json(
                alert.config.webhook, json.dumps(body).encode(),
                allow_private=alert.config.allow_private,
                on_taken=lambda: self.taken.add(alert.job),
            )  # fmt: skip
        finally:
            if alert.job in self.taken:  # even when the service's end cut the POST short
                await asyncio.shield(asyncio.to_thread(forget, self.client, alert.job))
                self.taken.discard(alert.job)
