"""The defects issue 9 lists, each shown fixed the way an operator met it: real processes, the
embedded Valkey and chDB, the test web."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import pytest

from crawler.demo.server import LocalWebServer
from tests.conftest import (
    LINKGRAPH,
    CrawledWeb,
    IndexedWeb,
    crawl_test_web,
    query,
    run_cli,
    run_linkgraph,
)
from tests.test_workers import assert_index_complete, crawl_cmd, finish, start, wait_for
from tests.testweb import TestWeb


def status_of(data: Path, job: str) -> dict[str, Any]:
    return dict(json.loads(run_linkgraph("status", job, "--json", "--data-dir", str(data)).stdout))


def job_row(data: Path, job: str) -> list[str]:
    listing = run_linkgraph("jobs", "--data-dir", str(data)).stdout.splitlines()
    (row,) = [line.split("  ") for line in listing[1:] if line.startswith(f"{job} ")]
    return [cell.strip() for cell in row if cell.strip()]


def test_a_finished_job_says_finished_and_its_rate_stops_falling(
    web: TestWeb, served: tuple[LocalWebServer, Path], tmp_path: Path
) -> None:
    server, hosts_file = served
    data = tmp_path / "data"
    finish(start(crawl_cmd(data, hosts_file, "--job", "done", "--workers", "2", "--delay", "0",
                           *web.seeds(server.port))))  # fmt: skip
    pages = len(web.expected_pages(server.port))
    assert job_row(data, "done") == ["done", "finished", str(pages), "0", "0", "0"]
    first = status_of(data, "done")
    time.sleep(2.0)
    again = status_of(data, "done")
    assert first["state"] == again["state"] == "finished" and first["workers"] == 0
    assert first["pages_per_s_average"] == again["pages_per_s_average"] > 0
    assert first["elapsed_s"] == again["elapsed_s"]


def test_a_crawl_stopped_by_max_pages_with_urls_queued_says_so(
    web: TestWeb, served: tuple[LocalWebServer, Path], tmp_path: Path
) -> None:
    server, hosts_file = served
    data = tmp_path / "data"
    stderr = finish(start(crawl_cmd(data, hosts_file, "--job", "budget", "--workers", "1",
                                    "--max-pages", "5", *web.seeds(server.port))))  # fmt: skip
    assert query(data, "SELECT count() FROM pages WHERE job = 'budget'") == [(5,)]
    row = job_row(data, "budget")
    assert row[:3] == ["budget", "stopped at max-pages", "5"] and int(row[3]) > 0
    assert status_of(data, "budget")["state"] == "stopped at max-pages"
    assert "summary of job budget: stopped at max-pages after " in stderr


def test_stop_prints_no_deprecation_warning(
    web: TestWeb, served: tuple[LocalWebServer, Path], tmp_path: Path
) -> None:
    server, hosts_file = served
    data = tmp_path / "data"
    proc = start(crawl_cmd(data, hosts_file, "--job", "halt", "--workers", "2", "--delay", "0.5",
                           *web.seeds(server.port)))  # fmt: skip
    wait_for(lambda: len(server.requests()) >= 10)
    stopped = run_linkgraph("stop", "halt", "--data-dir", str(data))
    assert stopped.stderr == "job halt: stopped\n"
    stderr = finish(proc)
    assert "Warning" not in stderr and ".py:" not in stderr, stderr
    assert status_of(data, "halt")["state"] == "stopped"


def test_a_worker_finds_the_embedded_redis_through_data_dir(
    web: TestWeb, served: tuple[LocalWebServer, Path], tmp_path: Path
) -> None:
    server, hosts_file = served
    data = tmp_path / "data"
    # slow enough (2 s between two requests to a host) for the worker to start and join
    proc = start(crawl_cmd(data, hosts_file, "--job", "joined", "--workers", "1", "--delay",
                           "2", *web.seeds(server.port)))  # fmt: skip
    wait_for(lambda: len(server.requests()) >= 5)
    worker = start([*LINKGRAPH, "worker", "--job", "joined", "--data-dir", str(data)])
    said = finish(worker)
    finish(proc)
    # the worker crawled its share of the job, and handed its rows to the crawl's index
    (line,) = [line for line in said.splitlines() if line.startswith("job joined: ")]
    assert int(line.split("this run recorded ", 1)[1].split()[0]) > 0, said
    assert_index_complete(data, web, server.port)


def test_a_worker_without_a_running_crawl_says_what_to_give(tmp_path: Path) -> None:
    status, out, err = run_cli("worker", "--job", "j", "--data-dir", str(tmp_path / "none"))
    assert (status, out) == (2, "")
    assert err == (
        "linkgraph: error: a worker needs the job's frontier: no crawl is running with its "
        f"embedded Redis in {tmp_path / 'none'}; give --data-dir of a running crawl, or "
        "--redis URL\n"
    )
    assert not (tmp_path / "none").exists()


def test_job_commands_on_a_data_dir_without_jobs_create_nothing(tmp_path: Path) -> None:
    missing = tmp_path / "nothing-here"
    for args in (["jobs"], ["status", "j"], ["jobs", "show", "j"], ["pause", "j"]):
        status, out, err = run_cli(*args, "--data-dir", str(missing))
        assert (status, out) == (2, ""), args
        assert err == (
            f"linkgraph: error: no crawl jobs in {missing}: no frontier there (give the "
            "--data-dir of a crawl, or --redis URL)\n"
        )
    assert not missing.exists()


def test_recrawl_offers_no_max_depth() -> None:
    status, out, _ = run_cli("recrawl", "--help")
    assert status == 0 and "--max-pages" in out
    assert "--max-depth" not in out
    status, _, err = run_cli("recrawl", "v1", "--max-depth", "3")
    assert status == 2 and "unrecognized arguments: --max-depth 3" in err


# -- reading the index ---------------------------------------------------------------------------
ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


@pytest.fixture(scope="module")
def ranked(tmp_path_factory: pytest.TempPathFactory) -> CrawledWeb:
    """The test web crawled, and ranked (`rank` writes to the index: not the shared one)."""
    crawled = crawl_test_web(tmp_path_factory.mktemp("ranked"), "v1", 0)
    run_linkgraph("rank", "--data-dir", str(crawled.data_dir))
    return crawled


def test_authority_prints_rounded(ranked: CrawledWeb) -> None:
    data = str(ranked.data_dir)
    out = run_linkgraph("refdomains", "example.com", "--data-dir", data, "--format", "TSV").stdout
    ranks = dict(query(ranked.data_dir, "SELECT domain, authority FROM domain_rank"))
    rows = [line.split("\t") for line in out.splitlines()]
    assert rows and any("." in row[4] for row in rows)
    for row in rows:
        assert float(row[4]) == round(ranks.get(row[0], 0.0), 4)
        assert len(row[4].partition(".")[2]) <= 4, row
    profile = json.loads(run_linkgraph("profile", "example.com", "--data-dir", data, "--format",
                                       "json").stdout)  # fmt: skip
    assert profile["top_referring_domains"]
    for entry in profile["top_referring_domains"]:
        assert entry["authority"] == round(ranks.get(entry["src_domain"], 0.0), 4)
    assert profile["authority"] == round(ranks["example.com"], 4)


def test_times_print_in_utc_with_z(indexed_web: IndexedWeb) -> None:
    data = str(indexed_web.data_dir)
    status, out, _ = run_cli("backlinks", "example.com", "--data-dir", data, "--format", "TSV")
    assert status == 0
    rows = [line.split("\t") for line in out.splitlines()]
    assert rows and all(ISO_UTC.match(row[-1]) and ISO_UTC.match(row[-2]) for row in rows), rows
    (fetched,) = query(indexed_web.data_dir, "SELECT max(fetched_at) FROM pages")[0]
    status, out, _ = run_cli("sql", "SELECT max(fetched_at) FROM pages", "--data-dir", data)
    assert out == fetched.strftime("%Y-%m-%dT%H:%M:%S.") + f"{fetched.microsecond // 1000:03d}Z\n"
    status, out, _ = run_cli("profile", "example.com", "--data-dir", data)
    (seen,) = [line for line in out.splitlines() if line.startswith("  first seen ")]
    first, last = re.findall(r"\S+Z\b", seen)
    assert ISO_UTC.match(first) and ISO_UTC.match(last)


def test_limit_0_means_no_limit_as_in_crawl(indexed_web: IndexedWeb) -> None:
    data = str(indexed_web.data_dir)
    sql = "SELECT count() FROM backlinks WHERE dst_domain = 'example.com'"
    (total,) = query(indexed_web.data_dir, sql)[0]
    status, out, _ = run_cli("backlinks", "example.com", "--data-dir", data, "--limit", "0")
    assert status == 0 and len(out.splitlines()) == total > 2
    status, out, _ = run_cli("backlinks", "example.com", "--data-dir", data, "--limit", "2")
    assert len(out.splitlines()) == 2
    status, out, _ = run_cli("backlinks", "--help")
    assert "(default 50; 0: no limit)" in " ".join(out.split())


def test_an_unknown_domain_gets_a_hint(indexed_web: IndexedWeb) -> None:
    data = str(indexed_web.data_dir)
    status, out, err = run_cli("backlinks", "no-such-example.org", "--data-dir", data)
    assert (status, out) == (0, "")
    assert err == (
        "linkgraph: the index holds no page of domain no-such-example.org and no link to it: "
        "check its spelling (the report is empty)\n"
    )
    status, out, err = run_cli("backlinks", "example.com", "--data-dir", data)
    assert status == 0 and out and err == ""


def test_reading_a_missing_index_says_so_and_creates_nothing(
    indexed_web: IndexedWeb, tmp_path: Path
) -> None:
    missing = tmp_path / "no-index"
    for args in (["sql", "SELECT 1"], ["backlinks", "example.com"], ["profile", "example.com"],
                 ["export", "backlinks", "-o", str(tmp_path / "out.csv")]):  # fmt: skip
        status, out, err = run_cli(*args, "--data-dir", str(missing))
        assert (status, out) == (2, ""), args
        assert err == (
            f"linkgraph: error: no index in {missing}: nothing was crawled there (give the "
            "--data-dir of a crawl, or --clickhouse URL)\n"
        )
    assert not missing.exists() and not (tmp_path / "out.csv").exists()
    data = str(indexed_web.data_dir)
    status, out, err = run_cli("sql", "SELECT 1", "--data-dir", data, "--database", "nope")
    assert (status, out) == (2, "")
    assert err == (
        f"linkgraph: error: no index in database 'nope' at chdb://{indexed_web.data_dir}/"
        "clickhouse (give the --database of a crawl)\n"
    )
    status, out, _ = run_cli("sql", "SELECT name FROM system.databases", "--data-dir", data)
    assert "nope" not in out.split()
