"""What an operator watches: progress lines that count every worker of the job, the end summary,
and `linkgraph status` after the end. Real processes, the embedded Valkey and chDB, the test web;
every figure is checked against the index."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import select
import struct
import subprocess
import termios
import time
from pathlib import Path

import redis

from crawler import jobs
from crawler.demo.server import LocalWebServer
from crawler.frontier import Frontier
from crawler.jobspec import JobSpec
from crawler.jobstats import read_job_stats, tallies
from crawler.rows import Batch, PageRow
from crawler.sinks import unanswered
from tests.conftest import LINKGRAPH, ROOT, SHORT_BACKOFF, query, run_linkgraph
from tests.test_workers import crawl_cmd, finish, start, wait_for
from tests.testweb import TestWeb

LINE = re.compile(r"^\[(?P<job>[^\]]+)\] (?P<state>[^:]+): (?P<pages>\d+) pages(?P<rest>.*)$")
# Lines every 0.3 s, and rows recorded every 0.2 s, so that the lines move during a short crawl.
FAST_PROGRESS = ("-s", "LINKGRAPH_PROGRESS_SECONDS=0.3", "-s", "LINKGRAPH_BATCH_SECONDS=0.2")


def progress_lines(stderr: str, job: str) -> list[re.Match[str]]:
    lines = [LINE.match(line) for line in stderr.splitlines()]
    return [m for m in lines if m is not None and m["job"] == job]


def index_figures(data: Path, job: str) -> dict[str, int]:
    (row,) = query(
        data,
        "SELECT count(), sum(links), sum(bytes), countIf(status BETWEEN 200 AND 299), "
        "countIf(status BETWEEN 300 AND 399), countIf(status BETWEEN 400 AND 499), "
        "countIf(status >= 500), countIf(status = 0), "
        f"countIf(error = 'robots' OR startsWith(error, 'robots:')) FROM pages WHERE job = '{job}'",
    )
    names = ("pages", "links", "bytes", "2xx", "3xx", "4xx", "5xx", "none", "robots")
    return dict(zip(names, (int(v) for v in row), strict=True))


def test_a_two_worker_crawl_reports_the_whole_job_and_its_summary(
    web: TestWeb, served: tuple[LocalWebServer, Path], tmp_path: Path
) -> None:
    server, hosts_file = served
    data = tmp_path / "data"
    cmd = crawl_cmd(data, hosts_file, "--job", "two", "--workers", "2", "--delay", "0.1",
                    *FAST_PROGRESS, *web.seeds(server.port))  # fmt: skip
    cmd.remove("-q")  # progress lines on, in a pipe: plain lines
    stderr = finish(start(cmd))
    truth = index_figures(data, "two")
    assert truth["pages"] == len(web.expected_pages(server.port))
    lines = progress_lines(stderr, "two")
    assert len(lines) >= 3, stderr
    pages = [int(m["pages"]) for m in lines]
    assert pages == sorted(pages)  # the job's count only grows
    # the last line, at the coordinator's end, counts both workers' pages: the index's
    assert pages[-1] == truth["pages"]
    assert lines[-1]["state"] == "finished"
    assert f"{truth['links']} links" in lines[-1]["rest"]
    assert all(re.search(r", elapsed \d", m["rest"]) for m in lines)
    assert not any("ETA" in m["rest"] for m in lines)  # no page limit, no ETA
    assert "\r" not in stderr and "%|" not in stderr  # a pipe gets no progress bar

    summary = stderr[stderr.index("summary of job two: finished after ") :].splitlines()
    names = {"2xx": "2xx", "3xx": "3xx", "4xx": "4xx", "5xx": "5xx", "none": "no response"}
    status = ", ".join(f"{name} {truth[key]}" for key, name in names.items() if truth[key])
    assert summary[1:6] == [
        f"  pages: {truth['pages']} ({status})",
        f"  links: {truth['links']}",
        f"  bytes: {truth['bytes']}",
        f"  robots refusals: {truth['robots']}",
        "  fetch errors: none",
    ]
    # the test web's one 500 page is its host's one failure
    (failing,) = query(data, "SELECT host FROM pages WHERE job = 'two' AND status >= 500")
    pages_of_host = query(data, f"SELECT count() FROM pages WHERE host = '{failing[0]}'")[0][0]
    assert summary[7] == f"  most failing hosts: {failing[0]} (1 of {pages_of_host} pages)"
    assert summary[6].startswith("  slowest hosts: ") and " per response, " in summary[6]
    assert summary[8] == "  still queued: 0"

    # after the end, `status` gives the same figures, frozen, and the summary
    first = json.loads(run_linkgraph("status", "two", "--json", "--data-dir", str(data)).stdout)
    time.sleep(1.5)
    again = json.loads(run_linkgraph("status", "two", "--json", "--data-dir", str(data)).stdout)
    assert first == again
    assert (first["state"], first["done"], first["links"], first["bytes"]) == (
        "finished", truth["pages"], truth["links"], truth["bytes"],
    )  # fmt: skip
    assert first["status"] == {k: truth[k] for k in ("2xx", "3xx", "4xx", "5xx", "none")}
    assert first["robots_refused"] == truth["robots"] and first["workers"] == 0
    assert first["started"].endswith("Z") and first["ended"].endswith("Z")
    assert first["summary"]["pages"] == truth["pages"]
    text = run_linkgraph("status", "two", "--data-dir", str(data)).stdout
    assert f"  pages: {truth['pages']} ({status})" in text.splitlines()
    assert "state: finished" in text.splitlines()


def test_progress_says_paused_and_gives_an_eta_against_max_pages(
    web: TestWeb, served: tuple[LocalWebServer, Path], tmp_path: Path
) -> None:
    server, hosts_file = served
    data = tmp_path / "data"
    cmd = crawl_cmd(data, hosts_file, "--job", "eta", "--workers", "1", "--delay", "1.5",
                    "--max-pages", "40", *FAST_PROGRESS, *web.seeds(server.port))  # fmt: skip
    cmd.remove("-q")
    proc = start(cmd)
    wait_for(lambda: len(server.requests()) >= 8)
    run_linkgraph("pause", "eta", "--data-dir", str(data))
    time.sleep(2.0)  # a few progress lines while paused
    run_linkgraph("resume", "eta", "--data-dir", str(data))
    stderr = finish(proc)
    lines = progress_lines(stderr, "eta")
    states = [m["state"] for m in lines]
    assert "paused" in states and "running" in states, stderr
    assert states.index("running") < states.index("paused")
    running = [m for m in lines if m["state"] == "running" and int(m["pages"]) > 0]
    for m in running:
        done = int(m["pages"])
        assert f" of 40 ({done * 100 // 40}%)" in m["rest"]
        assert re.search(r", ETA \d+(\.\d)?s|, ETA \d+m\d\ds", m["rest"]), m.group(0)
    paused = [m for m in lines if m["state"] == "paused"]
    assert paused and not any("ETA" in m["rest"] for m in paused)
    # the page budget is spent with URLs still queued: the job says so
    recorded = query(data, "SELECT count() FROM pages WHERE job = 'eta'")[0][0]
    assert recorded == 40
    assert lines[-1]["state"] == "stopped at max-pages" and int(lines[-1]["pages"]) == 40
    assert "summary of job eta: stopped at max-pages after " in stderr


def test_a_terminal_gets_a_progress_bar(
    web: TestWeb, served: tuple[LocalWebServer, Path], tmp_path: Path
) -> None:
    server, hosts_file = served
    data = tmp_path / "data"
    cmd = [*LINKGRAPH, "crawl", "--data-dir", str(data), "--hosts-file", str(hosts_file),
           "--allow-private", *SHORT_BACKOFF, "--job", "tty", "--workers", "1", "--delay", "0.1",
           "--max-pages", "30", *FAST_PROGRESS, *web.seeds(server.port)]  # fmt: skip
    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 200, 0, 0))  # rows, cols
    proc = subprocess.Popen(cmd, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=terminal)  # fmt: skip
    os.close(terminal)
    shown = b""
    poller = select.poll()
    poller.register(controller, select.POLLIN)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        # poll, not select: by now the test process may hold descriptors past select's 1024
        if poller.poll(1000):
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # the terminal's last writer exited
                break
            if not chunk:
                break
            shown += chunk
        elif proc.poll() is not None:
            break
    os.close(controller)
    assert proc.wait(timeout=60) == 0
    text = shown.decode(errors="replace")
    # tqdm redraws one bar in place: carriage returns, a bar with a percentage, no plain lines
    assert "\r" in text and re.search(r"tty (running|stopped at max-pages):\s+\d+%\|", text), text
    assert "100%|" in text and "30 pages of 30 (100%)" in text
    assert not progress_lines(text.replace("\r", "\n"), "tty")


def page_row(url: str, status: int, error: str = "", links: int = 0, size: int = 0) -> PageRow:
    host = url.split("/")[2]
    return PageRow("figures", url, host, host, status, "text/html", size, 0, 0, "", "", 0, 0,
                   error, "", links)  # fmt: skip


def test_figures_count_each_recorded_page_once(redis_client: redis.Redis) -> None:
    """The job's figures are counted as the leases end: a batch acknowledged again (a retry,
    a replay after a crash) counts nothing, nor does a page whose lease went back."""
    jobs.save(redis_client, JobSpec(job="figures", max_pages=10))
    f = Frontier(redis_client, "figures", delay=0)
    rows = [
        page_row("http://a.example/1", 200, links=3, size=100),
        page_row("http://a.example/2", 404, size=10),
        page_row("http://b.example/1", 0, "timeout"),
        page_row("http://c.example/1", 0, "robots"),
        page_row("http://d.example/1", 503, size=5),
        page_row("http://e.example/1", 0, "host dropped after 5 failures in a row (last: dns)"),
    ]
    f.add((row.url, 0) for row in rows)
    entries = {e.url: e for e in f.pop(len(rows)).entries}  # one per host at a time
    f.release("a.example")
    entries.update({e.url: e for e in f.pop(1).entries})
    batch = Batch(rows, [], [entries[row.url].fp for row in rows])
    assert f.ack(batch.fingerprints, unanswered(batch), tallies(batch)) == 6
    assert f.ack(batch.fingerprints, unanswered(batch), tallies(batch)) == 0  # a replay
    f.add([("http://f.example/1", 0)])
    (returned,) = f.pop(1).entries
    f.return_leases([returned])
    late = Batch([page_row(returned.url, 200, links=9, size=9)], [], [returned.fp])
    assert f.ack(late.fingerprints, unanswered(late), tallies(late)) == 0
    stats = read_job_stats(redis_client, "figures")
    assert stats is not None
    assert (stats.pages, stats.links, stats.bytes, stats.robots_refused) == (6, 3, 115, 1)
    assert stats.status == {"2xx": 1, "3xx": 0, "4xx": 1, "5xx": 1, "none": 3}
    assert stats.errors == {"host dropped": 1, "timeout": 1}
    assert stats.top_hosts[:2] == [("a.example", 2), ("b.example", 1)]
    assert (stats.queued, stats.in_flight, stats.max_pages) == (1, 0, 10)
    assert read_job_stats(redis_client, "no-such-job") is None
    as_json = stats.to_json()
    assert as_json["top_hosts"][0] == ["a.example", 2] and as_json["started"].endswith("Z")
    assert json.loads(json.dumps(as_json)) == as_json
