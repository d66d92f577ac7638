"""`linkgraph worker|jobs|status|pause|resume|stop`: joining and steering crawl jobs."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

import redis

from crawler import jobs
from crawler.cli.common import add_data_dir, add_redis, job_name
from crawler.cli.crawl import exit_status, print_summary
from crawler.cli.jobflags import add_output_flags, own_clickhouse_url, writable_dir
from crawler.errors import UsageError
from crawler.frontier import Frontier
from crawler.frontier.connection import connect as connect_redis
from crawler.jobconfig import spec_toml
from crawler.jobspec import JobSpec
from crawler.jobstats import read_job_stats
from crawler.processes.valkey import EmbeddedValkey
from crawler.run import ProcessOptions, redis_for, run_crawl
from crawler.summary import summary_lines

TOP_HOSTS = 10


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "worker",
        help="join a running crawl job (from this or another machine)",
        description="Crawl for an existing job with the job's own settings, until it ends or "
        "is stopped. A job whose index is the coordinator's embedded chDB needs only --redis "
        "(or, on the coordinator's machine, its --data-dir): rows are handed over through "
        "Redis. A job writing to a ClickHouse server needs --clickhouse too when its URL has a "
        "password (the job does not keep passwords).",
    )
    p.add_argument("--job", type=job_name, required=True)
    add_redis(p)
    add_data_dir(p)
    p.add_argument(
        "--clickhouse",
        metavar="URL",
        help="the job's ClickHouse server, with its password (default: "
        "$LINKGRAPH_CLICKHOUSE_URL, else the job's own URL if that has no password)",
    )
    p.add_argument("--warc", metavar="DIR", default="", help="also archive responses as WARC here")
    add_output_flags(p)
    # started by `linkgraph crawl --workers N`: follow the coordinator's stops on stdin
    p.add_argument("--from-coordinator", action="store_true", help=argparse.SUPPRESS)
    p.set_defaults(func=run_worker)

    p = sub.add_parser(
        "jobs",
        help="list the crawl jobs in the frontier, or show one's spec",
        description="List the jobs in the frontier with their state and counts; `jobs show "
        "JOB` prints a job's saved spec as TOML, which `linkgraph crawl --config` reads.",
    )
    p.add_argument("action", nargs="?", choices=["show"], help="show: print JOB's spec as TOML")
    p.add_argument("job", nargs="?", metavar="JOB")
    add_redis(p)
    add_data_dir(p)
    p.set_defaults(func=run_jobs)

    p = sub.add_parser(
        "status",
        help="the state of one crawl job",
        description="Queued, in flight, done and failed counts, hosts due and "
        "waiting, pages/s, and the hosts with the most work queued.",
    )
    p.add_argument("job", type=job_name, metavar="JOB")
    p.add_argument("--json", action="store_true", help="one JSON object instead of text")
    add_redis(p)
    add_data_dir(p)
    p.set_defaults(func=run_status)

    for name, state, text in (
        ("pause", jobs.PAUSED, "pause a job: workers stay up and fetch nothing"),
        ("resume", jobs.RUNNING, "resume a paused job"),
        ("stop", jobs.STOPPED, "stop a job gracefully; `linkgraph crawl --job JOB` resumes it"),
    ):
        p = sub.add_parser(name, help=text, description=text[0].upper() + text[1:] + ".")
        p.add_argument("job", type=job_name, metavar="JOB")
        add_redis(p)
        add_data_dir(p)
        p.set_defaults(func=_set_state(state))


def _known(client: redis.Redis, job: str) -> JobSpec:
    spec = jobs.load(client, job)
    if spec is None:
        raise UsageError(f"no job {job!r} in this frontier (see `linkgraph jobs`)")
    return spec


@contextlib.contextmanager
def frontier_url(args: argparse.Namespace) -> Iterator[str]:
    """The frontier's Redis for a command that reads or steers jobs: --redis, else the embedded
    server of --data-dir (joined if running, started if not); a data dir that never held a
    frontier is one line, and nothing is created there."""
    if not args.redis and not (Path(args.data_dir) / "redis").is_dir():
        raise UsageError(
            f"no crawl jobs in {args.data_dir}: no frontier there (give the --data-dir of a "
            "crawl, or --redis URL)"
        )
    with redis_for(args.redis, args.data_dir) as url:
        yield url


def run_worker(args: argparse.Namespace) -> int:
    if args.warc:
        writable_dir(args.warc, "--warc")
    if not args.redis:
        # The embedded server of a crawl running on this machine, found through its data dir.
        args.redis = EmbeddedValkey(args.data_dir).running_url() or ""
        if not args.redis:
            raise UsageError(
                f"a worker needs the job's frontier: no crawl is running with its embedded "
                f"Redis in {args.data_dir}; give --data-dir of a running crawl, or --redis URL"
            )
    spec = _known(connect_redis(args.redis), args.job)
    if spec.embedded and args.clickhouse:
        raise UsageError(f"job {args.job!r} is indexed by its coordinator: omit --clickhouse")
    # the environment's URL is for jobs with a server; an embedded job's workers hand rows over
    own_url = "" if spec.embedded else own_clickhouse_url(args) or ""
    process = ProcessOptions(
        data_dir=args.data_dir,
        redis_url=args.redis,
        clickhouse_url=own_url,
        log_level="INFO" if args.verbose else "WARNING",
        progress=not args.quiet,
        warc_dir=args.warc,
        joining=True,
        coordinated=args.from_coordinator,
    )
    result = run_crawl(args.job, process)
    if not args.quiet:
        print_summary(result)
    return exit_status(result)


def run_jobs(args: argparse.Namespace) -> int:
    if args.action is None and args.job is None:
        return list_jobs(args)
    if args.action != "show" or args.job is None:
        raise UsageError("use `linkgraph jobs` to list the jobs, `linkgraph jobs show JOB` for one")
    job = job_name_or_error(args.job)
    with frontier_url(args) as url:
        spec = _known(connect_redis(url), job)
    sys.stdout.write(spec_toml(spec))
    return 0


def job_name_or_error(text: str) -> str:
    try:
        return job_name(text)
    except argparse.ArgumentTypeError as exc:
        raise UsageError(f"argument JOB: {exc}") from None


def list_jobs(args: argparse.Namespace) -> int:
    with frontier_url(args) as url:
        client = connect_redis(url)
        rows = [("job", "state", "recorded", "queued", "in flight", "workers")]
        for job in jobs.names(client):
            stats = read_job_stats(client, job)
            if stats is None:
                continue
            rows.append((job, stats.state, str(stats.pages), str(stats.queued),
                         str(stats.in_flight), str(stats.live_workers)))  # fmt: skip
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    return 0


def job_status(client: redis.Redis, job: str) -> dict[str, Any]:
    """The job's figures (crawler/jobstats.py), with the rate over the last second while it
    runs, and the hosts with the most work queued."""
    _known(client, job)
    f = Frontier(client, job)
    before = read_job_stats(client, job)
    assert before is not None
    if before.ended_run:
        stats = before  # nothing moves any more: no second sample
    else:
        time.sleep(1.0)  # two samples a second apart give the current rate
        stats = read_job_stats(client, job) or before
    s = f.stats()
    now = time.time()
    # A host's queue lives in its partition; the counts are summed over them.
    lengths: dict[str, int] = {}
    due = waiting = 0
    for part in f.partitions.all:
        keys = part.keys
        hosts = [h.decode() for h in cast("list[bytes]", client.zrange(keys.due, 0, 999))]
        pipe = client.pipeline(transaction=False)
        for host in hosts:
            pipe.zcard(keys.queue(host))
        pipe.zcount(keys.due, "-inf", now)
        pipe.zcount(keys.due, f"({now}", "+inf")
        *counts, part_due, part_waiting = pipe.execute()
        lengths.update(zip(hosts, counts, strict=True))
        due, waiting = due + part_due, waiting + part_waiting
    dropped = int(cast("int", client.hlen(f.keys.dropped)))
    top = sorted(lengths.items(), key=lambda hl: (-hl[1], hl[0]))[:TOP_HOSTS]
    figures = stats.to_json()
    return {
        "job": job,
        "state": stats.state,
        "queued": stats.queued,
        "in_flight": stats.in_flight,
        "done": stats.pages,
        "failed": s.get("failed", 0),
        "seen": s["seen"],
        "hosts_due": due,
        "hosts_waiting": waiting,
        "hosts_parked": stats.hosts_parked,
        "hosts_dropped": dropped,
        "workers": stats.live_workers,
        "pages_per_s": 0 if stats.ended_run else stats.pages - before.pages,
        "pages_per_s_average": stats.pages_per_s,
        "started": figures["started"],
        "ended": figures["ended"],
        "elapsed_s": stats.elapsed_s,
        "max_pages": stats.max_pages,
        "eta_s": stats.eta_s,
        "links": stats.links,
        "bytes": stats.bytes,
        "status": stats.status,
        "errors": stats.errors,
        "robots_refused": stats.robots_refused,
        "top_hosts": [{"host": h, "queued": n} for h, n in top],
        "summary": stats.summary,
    }


def run_status(args: argparse.Namespace) -> int:
    with frontier_url(args) as url:
        status = job_status(connect_redis(url), args.job)
    if args.json:
        print(json.dumps(status))
        return 0
    summary = status.pop("summary")
    for key, value in status.items():
        if key == "top_hosts" or value is None:
            continue
        if isinstance(value, dict):
            value = ", ".join(f"{k} {n}" for k, n in value.items()) or "none"
        print(f"{key.replace('_', ' ')}: {value}")
    print("hosts with the most queued:")
    for entry in cast("list[dict[str, Any]]", status["top_hosts"]):
        print(f"  {entry['queued']:>8}  {entry['host']}")
    if summary is not None:
        print("\n".join(summary_lines(args.job, summary)))
    return 0


def _set_state(state: str) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        with frontier_url(args) as url:
            client = connect_redis(url)
            _known(client, args.job)
            jobs.set_state(client, args.job, state)
        print(f"job {args.job}: {state}", file=sys.stderr)
        return 0

    return run
