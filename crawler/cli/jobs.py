"""`linkgraph worker|jobs|status|pause|resume|stop`: joining and steering crawl jobs."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from typing import Any, cast

import redis

from crawler import jobs
from crawler.cli.common import add_data_dir, add_redis, job_name
from crawler.cli.crawl import exit_status, print_summary
from crawler.cli.jobflags import add_output_flags, own_clickhouse_url, writable_dir
from crawler.errors import UsageError
from crawler.frontier import Frontier
from crawler.frontier.connection import connect as connect_redis
from crawler.jobspec import JobSpec
from crawler.run import ProcessOptions, redis_for, run_crawl

TOP_HOSTS = 10


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "worker",
        help="join a running crawl job (from this or another machine)",
        description="Crawl for an existing job with the job's own settings, until it ends or "
        "is stopped. A job whose index is the coordinator's embedded chDB needs only --redis: "
        "rows are handed over through Redis. A job writing to a ClickHouse server needs "
        "--clickhouse too when its URL has a password (the job does not keep passwords).",
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
        help="list the crawl jobs in the frontier",
        description="List the jobs in the frontier with their state and counts.",
    )
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


def run_worker(args: argparse.Namespace) -> int:
    if not args.redis:
        raise UsageError("a worker needs the job's frontier: give --redis URL")
    if args.warc:
        writable_dir(args.warc, "--warc")
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
    with redis_for(args.redis, args.data_dir) as url:
        client = connect_redis(url)
        rows = [("job", "state", "recorded", "queued", "in flight", "workers")]
        for job in jobs.names(client):
            f = Frontier(client, job)
            s = f.stats()
            rows.append(
                (
                    job,
                    jobs.state(client, job),
                    str(s.get("recorded", 0)),
                    str(s.get("queued", 0)),
                    str(s["leased"]),
                    str(f.live_workers()),
                )
            )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    return 0


def job_status(client: redis.Redis, job: str) -> dict[str, object]:
    _known(client, job)
    f = Frontier(client, job)
    before = f.stats()
    time.sleep(1.0)  # two samples a second apart give the current rate
    s = f.stats()
    now = time.time()
    keys = f.keys
    hosts = [h.decode() for h in cast("list[bytes]", client.zrange(keys.due, 0, 999))]
    pipe = client.pipeline(transaction=False)
    for host in hosts:
        pipe.zcard(keys.queue(host))
    pipe.zcount(keys.due, "-inf", now)
    pipe.zcount(keys.due, f"({now}", "+inf")
    pipe.hget(keys.config, "started")
    pipe.hvals(keys.parked)
    pipe.hlen(keys.dropped)
    *lengths, due, waiting, started, parked_until, dropped = pipe.execute()
    top = sorted(zip(hosts, lengths, strict=True), key=lambda hl: (-hl[1], hl[0]))[:TOP_HOSTS]
    elapsed = max(now - float(started or now), 1e-9)
    return {
        "job": job,
        "state": jobs.state(client, job),
        "queued": s.get("queued", 0),
        "in_flight": s["leased"],
        "done": s.get("recorded", 0),
        "failed": s.get("failed", 0),
        "seen": s["seen"],
        "hosts_due": due,
        "hosts_waiting": waiting,
        "hosts_parked": sum(1 for t in parked_until if float(t) > now),
        "hosts_dropped": dropped,
        "workers": f.live_workers(),
        "pages_per_s": s.get("recorded", 0) - before.get("recorded", 0),
        "pages_per_s_average": round(s.get("recorded", 0) / elapsed, 2),
        "top_hosts": [{"host": h, "queued": n} for h, n in top],
    }


def run_status(args: argparse.Namespace) -> int:
    with redis_for(args.redis, args.data_dir) as url:
        status = job_status(connect_redis(url), args.job)
    if args.json:
        print(json.dumps(status))
        return 0
    for key, value in status.items():
        if key != "top_hosts":
            print(f"{key.replace('_', ' ')}: {value}")
    print("hosts with the most queued:")
    for entry in cast("list[dict[str, Any]]", status["top_hosts"]):
        print(f"  {entry['queued']:>8}  {entry['host']}")
    return 0


def _set_state(state: str) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        with redis_for(args.redis, args.data_dir) as url:
            client = connect_redis(url)
            _known(client, args.job)
            jobs.set_state(client, args.job, state)
        print(f"job {args.job}: {state}", file=sys.stderr)
        return 0

    return run
