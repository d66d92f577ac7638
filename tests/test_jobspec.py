"""The job spec: one default per setting, flags and `-s` checked before anything starts, the spec
saved with the job and kept by a resume, and no password in it. Real Valkey, real crawls."""

from __future__ import annotations

import argparse
import json
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import fields, replace
from itertools import pairwise
from pathlib import Path

import pytest
import redis

from crawler import jobs
from crawler import settings as defaults
from crawler.cli.jobflags import given_settings
from crawler.cli.main import build_parser
from crawler.demo.server import LocalWebServer, RequestLog
from crawler.errors import UsageError
from crawler.jobspec import FIELDS, JobSpec, index_url
from crawler.processes.valkey import EmbeddedValkey
from crawler.resolver import read_hosts_file
from crawler.run import ProcessOptions, build_settings, resolve_spec
from crawler.storage import StorageTarget
from tests.conftest import (
    LINKGRAPH,
    ROOT,
    SHORT_BACKOFF,
    page_fetches,
    query,
    run_cli,
    run_linkgraph,
)
from tests.testweb import TestWeb

JOB_FLAGS = {"max_pages", "max_pages_per_host", "max_depth", "delay", "hosts_file",
             "allow_private", "user_agent", "lease_seconds", "set", "scope", "allow_domain",
             "deny_domain", "allow_domains_file", "deny_domains_file", "clickhouse",
             "database", "dedupe", "bloom_capacity", "bloom_error_rate", "recrawl_every",
             "watch_domain", "alert_webhook"}  # fmt: skip


def saved_spec(data: Path, job: str) -> JobSpec:
    """The spec a finished crawl left in the embedded Valkey of `data`."""
    with EmbeddedValkey(data) as server:
        client = redis.Redis.from_url(server.url)
        spec = jobs.load(client, job)
        client.close()
    assert spec is not None
    return spec


def wait_for(condition: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def subparser(command: str) -> argparse.ArgumentParser:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices[command]


# -- one default per setting ---------------------------------------------------------------------


def test_every_spec_default_is_the_settings_one() -> None:
    spec = JobSpec()
    for f in fields(spec):
        if f.metadata:
            assert getattr(spec, f.name) == getattr(defaults, f.metadata["setting"]), f.name
    assert spec.settings == {}


def test_settings_py_lists_per_job_settings_as_the_spec_has_them() -> None:
    text = (ROOT / "crawler" / "settings.py").read_text()
    per_job = text.split("# -- linkgraph: per job")[1].split("# -- linkgraph: per process")[0]
    per_process = text.split("# -- linkgraph: per process")[1].split("# -- Scrapy")[0]
    assert set(re.findall(r"^(LINKGRAPH_\w+)", per_job, re.M)) == set(FIELDS) - {"USER_AGENT"}
    assert not set(re.findall(r"^(LINKGRAPH_\w+)", per_process, re.M)) & set(FIELDS)


@pytest.mark.parametrize("command", ["crawl", "recrawl"])
def test_job_flags_default_to_none(command: str) -> None:
    """A flag not given is known to be not given: its default is the spec's, not argparse's."""
    actions = {a.dest: a for a in subparser(command)._actions}
    present = JOB_FLAGS & set(actions)
    assert present >= JOB_FLAGS - {
        "scope",
        "allow_domain",
        "deny_domain",
        "allow_domains_file",
        "deny_domains_file",
        "clickhouse",
        "database",
    } - (
        {"max_depth", "recrawl_every"} if command == "recrawl" else set()
    )  # a re-crawl follows no link, and has no schedule of its own
    if command == "crawl":
        assert present == JOB_FLAGS
        for dest in present:
            assert actions[dest].default is None, dest
    else:  # recrawl's index flags are also the source job's, read before the crawl
        for dest in present - {"clickhouse", "database"}:
            assert actions[dest].default is None, dest


# -- checked before anything starts --------------------------------------------------------------


@pytest.mark.parametrize(
    ("flags", "line"),
    [
        (["-s", "LINKGRAPH_DELAY=abc"], "-s LINKGRAPH_DELAY=abc: 'abc' is not a number"),
        (["-s", "NOPE=1"], "-s NOPE=1: no setting NOPE in crawler/settings.py or Scrapy's"),
        (["--delay", "-1"], "argument --delay: -1 is negative"),
        (["--scope", "near"], "argument --scope: 'near' is not one of all, same-domain, "),
        (
            ["-s", "LINKGRAPH_MAX_DEPTH=1.5"],
            "-s LINKGRAPH_MAX_DEPTH=1.5: '1.5' is not a whole number",
        ),
        (["-s", "LINKGRAPH_JOB=x"], "-s LINKGRAPH_JOB=x: LINKGRAPH_JOB is set by --job, not by -s"),
        (
            ["-s", "LINKGRAPH_FRONTIER_PARTITIONS=0"],
            "-s LINKGRAPH_FRONTIER_PARTITIONS=0: 0 is not between 1 and 1024",
        ),
    ],
)
def test_bad_values_are_one_line_and_nothing_is_saved(
    redis_client: redis.Redis, redis_server: str, tmp_path: Path, flags: list[str], line: str
) -> None:
    data = tmp_path / "data"
    status, out, err = run_cli("crawl", "http://a.example/", "--job", "bad", "--data-dir",
                               str(data), "--redis", redis_server, *flags)  # fmt: skip
    assert status == 2 and out == ""
    assert len(err.splitlines()) == 1 and err.startswith(f"linkgraph: error: {line}"), err
    assert redis_client.dbsize() == 0
    assert not data.exists()


def test_a_flag_and_a_set_of_one_setting_are_refused(redis_server: str, tmp_path: Path) -> None:
    status, _, err = run_cli("crawl", "http://a.example/", "--data-dir", str(tmp_path / "d"),
                             "--delay", "1", "-s", "LINKGRAPH_DELAY=2")  # fmt: skip
    assert status == 2
    assert (
        err
        == "linkgraph: error: --delay and -s LINKGRAPH_DELAY set the same thing: give one of them\n"
    )


def test_set_values_are_typed_by_their_setting(tmp_path: Path) -> None:
    args = subparser("crawl").parse_args(
        ["-s", "LINKGRAPH_FOLLOW_LINKS=false", "-s", "DOWNLOAD_TIMEOUT=2.5", "-s",
         "LINKGRAPH_DENY_DOMAINS=a.example, b.example", "-s", "COOKIES_ENABLED=1",
         "-s", 'LINKGRAPH_HOSTS={"x.test": "127.0.0.1"}', "--max-depth", "2"]
    )  # fmt: skip
    assert given_settings(args) == {
        "LINKGRAPH_FOLLOW_LINKS": False,
        "DOWNLOAD_TIMEOUT": 2.5,
        "LINKGRAPH_DENY_DOMAINS": ["a.example", "b.example"],
        "COOKIES_ENABLED": True,
        "LINKGRAPH_HOSTS": {"x.test": "127.0.0.1"},
        "LINKGRAPH_MAX_DEPTH": 2,
    }


# -- saved with the job, the same on every worker ------------------------------------------------


def test_a_worker_builds_the_coordinators_settings(
    redis_client: redis.Redis, redis_server: str, tmp_path: Path
) -> None:
    hosts_file = tmp_path / "hosts"
    hosts_file.write_text("127.0.0.1 a.test b.test\n")
    args = subparser("crawl").parse_args(
        ["--delay", "0.3", "--hosts-file", str(hosts_file), "--allow-private", "--max-depth",
         "3", "--lease-seconds", "40", "--user-agent", "ua/1", "--scope", "seed-domains",
         "--deny-domain", "c.test", "-s", "LINKGRAPH_RETRY_TIMES=7", "-s",
         "DOWNLOAD_TIMEOUT=12.5", "-s", "LINKGRAPH_BATCH_ROWS=99"]
    )  # fmt: skip
    given = given_settings(args)
    spec, changes = resolve_spec(redis_client, "same", given, ["http://a.test/x"])
    assert changes == []  # a new job
    jobs.save(redis_client, spec)
    worker_spec = jobs.load(redis_client, "same")
    assert worker_spec == spec
    storage = StorageTarget("", tmp_path / "data")
    coordinator = build_settings(spec, ProcessOptions(tmp_path / "data"), storage, redis_server)
    worker = build_settings(
        worker_spec, ProcessOptions(tmp_path / "w", joining=True), storage, redis_server
    )
    expected = {
        **given,
        "LINKGRAPH_SEED_DOMAINS": ["a.test"],
        "LINKGRAPH_JOB": "same",
    }
    for name, value in expected.items():
        assert coordinator[name] == worker[name] == value, name
    for name in spec.scrapy_settings():
        assert coordinator[name] == worker[name], name
    assert worker.getfloat("LINKGRAPH_DELAY") == 0.3
    assert worker.getdict("LINKGRAPH_HOSTS") == read_hosts_file(hosts_file)
    # the worker of an embedded-index job hands its rows to the coordinator
    assert (coordinator.getbool("LINKGRAPH_HANDOFF"), worker.getbool("LINKGRAPH_HANDOFF")) == (
        False,
        True,
    )


def test_scrapy_remote_control_and_telnet_are_off(redis_server: str, tmp_path: Path) -> None:
    """Both would listen on localhost; a crawler built from our settings has neither."""
    script = f"""
from pathlib import Path
from scrapy.crawler import Crawler
from crawler.jobspec import JobSpec
from crawler.run import ProcessOptions, build_settings
from crawler.spiders.links import LinkSpider
from crawler.storage import StorageTarget
data = Path({str(tmp_path)!r})
settings = build_settings(JobSpec(job="ext"), ProcessOptions(data), StorageTarget("", data),
                          {redis_server!r})
crawler = Crawler(LinkSpider, settings, init_reactor=True)
crawler.spider = crawler._create_spider()  # as Crawler.crawl does first: it owns the frontier
crawler._apply_settings()
print(sorted(type(m).__name__ for m in crawler.extensions.middlewares))
"""
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=ROOT, timeout=120, check=True)  # fmt: skip
    enabled = proc.stdout.strip().splitlines()[-1]
    assert "CoreStats" in enabled and "Progress" in enabled  # the list is the real one
    assert "RemoteControl" not in enabled and "TelnetConsole" not in enabled


# -- resume keeps the job ------------------------------------------------------------------------


def test_a_resume_with_only_job_and_data_dir_keeps_the_job(
    web: TestWeb, served: tuple[LocalWebServer, Path], tmp_path: Path
) -> None:
    server, hosts_file = served
    data, delay = tmp_path / "data", 0.5
    first_run = subprocess.Popen(
        [*LINKGRAPH, "crawl", *web.seeds(server.port), "--job", "keep", "--data-dir", str(data),
         "--hosts-file", str(hosts_file), "--allow-private", "--delay", str(delay),
         "--workers", "1", "-q", *SHORT_BACKOFF],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    wait_for(lambda: len(server.requests()) >= 10, timeout=120)
    first_run.send_signal(signal.SIGINT)
    _, err = first_run.communicate(timeout=120)
    assert first_run.returncode == 0, err
    fetched_first = len(server.requests())
    assert fetched_first < len(web.expected_requests())
    first = saved_spec(data, "keep")

    proc = run_linkgraph("crawl", "--job", "keep", "--data-dir", str(data), "-q")
    assert " -> " not in proc.stderr  # nothing changed
    resumed = saved_spec(data, "keep")
    assert resumed == first
    assert resumed.hosts == read_hosts_file(hosts_file) and len(resumed.hosts) == 35
    assert resumed.allow_private is True and resumed.delay == delay
    rows = query(data, "SELECT url, status, error FROM pages")
    # no `dns` failures, no refused addresses: the hosts and --allow-private held
    assert [r for r in rows if "dns" in r[2] or "refused" in r[2]] == []
    assert {url: status for url, status, _ in rows} == web.expected_pages(server.port)
    assert len(rows) == len(web.expected_pages(server.port))
    assert page_fetches(server, web) == web.expected_fetches()  # once; a 5xx 1 + 3 times
    by_host: dict[str, list[RequestLog]] = {}
    for entry in sorted(server.requests()[fetched_first:], key=lambda e: e.started):
        by_host.setdefault(entry.host, []).append(entry)
    gaps = [b.started - a.finished for e in by_host.values() for a, b in pairwise(e)]
    assert gaps and min(gaps) >= delay - 0.01  # the resumed crawl kept the job's delay


def test_a_resume_changes_only_the_flags_given_and_says_so(
    web: TestWeb, served: tuple[LocalWebServer, Path], tmp_path: Path
) -> None:
    server, hosts_file = served
    data = tmp_path / "data"
    run_linkgraph("crawl", *web.seeds(server.port), "--job", "change", "--data-dir", str(data),
                  "--hosts-file", str(hosts_file), "--allow-private", "--delay", "0.05",
                  "--max-pages", "5", "-s", "LINKGRAPH_RETRY_TIMES=1", "-q",
                  *SHORT_BACKOFF)  # fmt: skip
    first = saved_spec(data, "change")
    proc = run_linkgraph("crawl", "--job", "change", "--data-dir", str(data), "--delay", "0.2",
                         "--max-pages", "5", "-s", "DOWNLOAD_TIMEOUT=9", "-q")  # fmt: skip
    changes = [line for line in proc.stderr.splitlines() if " -> " in line]
    assert changes == [
        "job change: DOWNLOAD_TIMEOUT 30 -> 9",
        "job change: delay 0.05 -> 0.2",
    ]
    resumed = saved_spec(data, "change")
    assert resumed == replace(first, delay=0.2, settings={**first.settings, "DOWNLOAD_TIMEOUT": 9})
    assert resumed.retry_times == 1 and resumed.allow_private and resumed.hosts == first.hosts
    assert query(data, "SELECT count() FROM pages") == [(5,)]


# -- no password in the spec ---------------------------------------------------------------------


def test_a_clickhouse_password_is_not_saved(tmp_path: Path) -> None:
    args = subparser("crawl").parse_args(["--clickhouse", "http://u:s3cret@ch.test:8123/idx"])
    given = given_settings(args)
    assert given["LINKGRAPH_CLICKHOUSE_URL"] == "http://u:***@ch.test:8123/idx"
    assert given["LINKGRAPH_DATABASE"] == "idx"
    spec, _ = JobSpec(job="pw").updated(given)
    assert "s3cret" not in spec.to_json()
    assert json.loads(spec.to_json())["clickhouse_url"] == "http://u:***@ch.test:8123/idx"
    # a worker brings the password itself; without it, one line says so
    own = "http://u:s3cret@ch.test:8123/idx"
    assert index_url(spec, own) == own
    with pytest.raises(UsageError, match=r"give --clickhouse URL .* with its password"):
        index_url(spec, "")
    no_password = replace(spec, clickhouse_url="http://ch.test:8123/idx")
    assert index_url(no_password, "") == "http://ch.test:8123/idx"


def test_a_redis_password_is_not_printed(tmp_path: Path) -> None:
    status, _, err = run_cli("crawl", "http://a.example/", "--data-dir", str(tmp_path / "d"),
                             "--redis", "redis://:s3cret@127.0.0.1:9/0")  # fmt: skip
    assert status == 2 and "s3cret" not in err
    assert err.startswith("linkgraph: error: cannot reach Redis at redis://:***@127.0.0.1:9/0")
