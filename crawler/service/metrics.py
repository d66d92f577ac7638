"""`GET /metrics`: every job's figures (crawler/jobstats.py) in the Prometheus text format
(exposition format 0.0.4), one series per job, labelled `job`.

The figures are the job's own, counted in Redis by every worker, not this process's: a counter
here equals what the index holds for the job (its pages and links once stored), so a scrape
after the job ended matches `SELECT count() FROM pages WHERE job = ...`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from crawler.jobstats import JobStats

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@dataclass(frozen=True)
class Metric:
    name: str
    kind: str  # "counter" | "gauge"
    help: str
    samples: Callable[[JobStats], Iterable[tuple[dict[str, str], float]]]


def _one(value: Callable[[JobStats], float]) -> Callable[[JobStats], list[tuple[dict, float]]]:
    return lambda stats: [({}, value(stats))]


METRICS = (
    Metric("linkgraph_pages_total", "counter", "Pages recorded in the index.",
           _one(lambda s: s.pages)),
    Metric("linkgraph_links_total", "counter", "Links recorded in the index.",
           _one(lambda s: s.links)),
    Metric("linkgraph_bytes_total", "counter", "Bytes of the recorded pages' bodies.",
           _one(lambda s: s.bytes)),
    Metric("linkgraph_robots_refused_total", "counter", "Pages not fetched: robots.txt refused.",
           _one(lambda s: s.robots_refused)),
    Metric("linkgraph_responses_total", "counter",
           "Pages recorded, by the class of their response status (none: no response).",
           lambda s: [({"status_class": c}, n) for c, n in sorted(s.status.items())]),
    Metric("linkgraph_fetch_errors_total", "counter",
           "Pages recorded without a response, by the class of their fetch error.",
           lambda s: [({"class": c}, n) for c, n in sorted(s.errors.items())]),
    Metric("linkgraph_queued", "gauge", "URLs queued in the frontier.",
           _one(lambda s: s.queued)),
    Metric("linkgraph_in_flight", "gauge", "URLs handed to a worker and not yet recorded.",
           _one(lambda s: s.in_flight)),
    Metric("linkgraph_hosts_queued", "gauge", "Hosts with URLs queued.",
           _one(lambda s: s.hosts_queued)),
    Metric("linkgraph_hosts_parked", "gauge", "Hosts parked after failures in a row.",
           _one(lambda s: s.hosts_parked)),
    Metric("linkgraph_live_workers", "gauge", "Worker processes crawling the job.",
           _one(lambda s: s.live_workers)),
    Metric("linkgraph_pages_per_second", "gauge", "Average pages per second of the job's run.",
           _one(lambda s: s.pages_per_s)),
    Metric("linkgraph_elapsed_seconds", "gauge", "Seconds the job's run has taken so far.",
           _one(lambda s: s.elapsed_s)),
    Metric("linkgraph_job_state", "gauge", "1 for the job's state (running, paused, finished...).",
           lambda s: [({"state": s.state}, 1)]),
)  # fmt: skip


def render(jobs: Iterable[JobStats]) -> str:
    """The text of a scrape: each metric's HELP and TYPE once, then its samples of every job."""
    stats = list(jobs)
    lines: list[str] = []
    for metric in METRICS:
        lines.append(f"# HELP {metric.name} {metric.help}")
        lines.append(f"# TYPE {metric.name} {metric.kind}")
        for job in stats:
            for labels, value in metric.samples(job):
                lines.append(f"{metric.name}{_labels({'job': job.job, **labels})} {_number(value)}")
    return "\n".join(lines) + "\n"


def _labels(labels: dict[str, str]) -> str:
    inner = ",".join(f'{name}="{_escape(value)}"' for name, value in labels.items())
    return "{" + inner + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    if isinstance(value, int) or float(value).is_integer():
        return str(int(value))
    return repr(float(value))
