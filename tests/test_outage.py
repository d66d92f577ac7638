"""Index outages injected mid-crawl, for real: the embedded chDB lives on a small tmpfs, and a
ballast file fills it once the crawl is under way, so every insert fails (NOT_ENOUGH_SPACE);
removing the ballast ends the outage. Crawls go through the real CLI against the test web, and
end with the index equal to the ground truth, no row stored twice.

Mounting needs root, as CI runs the tests; elsewhere the tests are skipped and say why."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from crawler.columnar import decode
from crawler.demo.server import LocalWebServer
from crawler.frontier import fingerprint
from crawler.frontier.keys import JobKeys
from crawler.processes.valkey import EmbeddedValkey
from tests.conftest import LINKGRAPH, ROOT, SHORT_BACKOFF, page_fetches, query
from tests.test_workers import worker_pids
from tests.testweb import TestWeb
from tests.webmodel import split_url

JOB = "outage"
LEASE_SECONDS = 4  # outages last longer than this, and than the reaper's 5 s period
OUTAGE_SECONDS = 12
OUTAGE_STARTS = r"cannot store rows in chdb://\S+ \(.*NOT_ENOUGH_SPACE"
REPLAYED = r"takes rows again after \d+ s: replayed (\d+) spooled batches in order"


@pytest.fixture
def data(tmp_path: Path) -> Iterator[Path]:
    """A data dir whose chDB directory is a 64 MiB tmpfs."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs for chDB needs root (CI runs the tests as root)")
    data = tmp_path / "data"
    index = data / "clickhouse"
    index.mkdir(parents=True)
    mount = ["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(index)]
    done = subprocess.run(mount, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield data
    finally:
        subprocess.run(["umount", "--lazy", str(index)], check=True)


class Crawl:
    """A `linkgraph crawl` of the test web running in the background, its output in a file."""

    def __init__(self, data: Path, log: Path, *args: str) -> None:
        self.log = log
        self.ballast = data / "clickhouse" / "ballast"
        self.spool = data / "spool" / JOB
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        with log.open("a") as out:
            command = [*LINKGRAPH, "crawl", "--job", JOB, "--data-dir", str(data), "-q", *args]
            self.proc = subprocess.Popen(command, stdout=out, stderr=out, cwd=ROOT, env=env)

    def text(self) -> str:
        return self.log.read_text()

    def fill_disk(self) -> None:
        """Write zeros until the index's file system is full."""
        with self.ballast.open("wb") as out:
            try:
                while True:
                    out.write(bytes(1 << 20))
                    out.flush()
            except OSError as exc:
                assert exc.errno == 28, exc  # ENOSPC

    def spooled(self) -> list[Path]:
        return sorted(self.spool.glob("*/*.batch"))

    def wait(self) -> None:
        try:
            assert self.proc.wait(timeout=300) == 0, self.text()
        finally:
            if self.proc.poll() is None:
                self.proc.kill()


def first_crawl(served: tuple[LocalWebServer, Path], web: TestWeb, data: Path, log: Path,
                *args: str) -> Crawl:  # fmt: skip
    server, hosts_file = served
    return Crawl(data, log, *web.seeds(server.port), "--hosts-file", str(hosts_file),
                 "--allow-private", "--delay", "0.2", "--lease-seconds", str(LEASE_SECONDS),
                 *SHORT_BACKOFF, *args)  # fmt: skip


def wait_until(done: Callable[[], bool], what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.1)


def fetched(server: LocalWebServer, web: TestWeb) -> int:
    return sum(page_fetches(server, web).values())


def assert_index_exact(data: Path, web: TestWeb, port: int) -> None:
    expected = web.expected_pages(port)
    rows = query(data, f"SELECT url, status, error FROM pages WHERE job = '{JOB}'")
    assert len(rows) == len({r[0] for r in rows}), "a page was recorded twice"
    assert {r[0]: r[1] for r in rows} == expected
    assert {r[0]: r[2] for r in rows if r[2]} == web.expected_errors(port)
    links = query(data, "SELECT src_url, dst_url, anchor, nofollow, ugc, sponsored, tag FROM links")
    assert len(links) == len(set(links)), "a link row was stored twice"
    got = sorted((s, d, a, bool(n), bool(u), bool(sp), t) for s, d, a, n, u, sp, t in links)
    want = sorted(
        (s, d, a, "nofollow" in rel, "ugc" in rel, "sponsored" in rel, tag)
        for s, d, a, rel, tag in web.expected_links(port)
    )
    assert got == want
    backlinks = query(data, "SELECT src_url, dst_url, follow, anchor FROM backlinks")
    assert {(s, d, bool(f), a) for s, d, f, a in backlinks} == web.expected_backlinks(port)


def outlast_a_full_spool(crawl: Crawl, server: LocalWebServer, web: TestWeb) -> None:
    """Fill the spool's disk once 5 pages are fetched; check that nothing more is fetched for
    OUTAGE_SECONDS (nor is the crawl done), then give the room back and let the crawl end."""
    wait_until(lambda: fetched(server, web) >= 5, "5 pages are fetched")
    crawl.fill_disk()
    wait_until(lambda: "fetching paused" in crawl.text(), "fetching is paused")
    time.sleep(1)  # what was in flight when the engine paused comes in
    before = fetched(server, web)
    time.sleep(OUTAGE_SECONDS)  # a lease left in the frontier thread's buffer would be reaped
    assert fetched(server, web) == before, "fetched while the spool was full"
    assert before < sum(web.expected_fetches().values())
    crawl.ballast.unlink()
    crawl.wait()


def recorded(text: str) -> int:
    """The job's recorded pages, from the crawl's summary line."""
    summary = re.search(r"job total (\d+) pages recorded", text)
    assert summary is not None, text
    return int(summary.group(1))


def test_an_outage_mid_crawl_is_spooled_replayed_and_ends_exact(
    data: Path, web: TestWeb, served: tuple[LocalWebServer, Path], tmp_path: Path
) -> None:
    """Two workers (the default here): the second hands its rows to the first, which owns the
    index and spools both its own and the handed-over batches."""
    server = served[0]
    crawl = first_crawl(served, web, data, tmp_path / "crawl.log", "--workers", "2")
    wait_until(lambda: fetched(server, web) >= 5, "5 pages are fetched")
    crawl.fill_disk()
    wait_until(lambda: bool(crawl.spooled()), "a batch is spooled")
    time.sleep(OUTAGE_SECONDS)  # longer than a lease: the spooled pages must stay leased
    crawl.ballast.unlink()
    crawl.wait()

    text = crawl.text()
    assert len(re.findall(OUTAGE_STARTS, text)) == 1, text
    replayed = re.findall(REPLAYED, text)
    assert len(replayed) == 1 and int(replayed[0]) >= 1, text
    assert "Returned" not in text, "a lease ran out during the outage"
    assert not crawl.spooled(), "rows left in the spool"
    assert page_fetches(server, web) == web.expected_fetches()  # no page fetched again
    assert_index_exact(data, web, server.port)
    assert recorded(text) == len(web.expected_pages(server.port))  # each counted once


def test_a_full_spool_stops_fetching_until_the_index_is_back(
    data: Path, web: TestWeb, served: tuple[LocalWebServer, Path], tmp_path: Path
) -> None:
    server = served[0]
    crawl = first_crawl(served, web, data, tmp_path / "crawl.log", "--workers", "1",
                        "-s", "LINKGRAPH_SPOOL_MAX_BYTES=1")  # fmt: skip
    outlast_a_full_spool(crawl, server, web)

    text = crawl.text()
    assert "the spool has room again: fetching resumed" in text
    assert len(re.findall(REPLAYED, text)) == 1
    assert page_fetches(server, web) == web.expected_fetches()
    assert_index_exact(data, web, server.port)


def test_a_job_stopped_while_the_spool_is_full_stops_and_resumes_exact(
    data: Path, web: TestWeb, served: tuple[LocalWebServer, Path], tmp_path: Path
) -> None:
    """The engine is paused, so the scheduler is asked for nothing: the stop is still seen."""
    server = served[0]
    log = tmp_path / "crawl.log"
    crawl = first_crawl(served, web, data, log, "--workers", "1",
                        "-s", "LINKGRAPH_SPOOL_MAX_BYTES=1")  # fmt: skip
    wait_until(lambda: fetched(server, web) >= 5, "5 pages are fetched")
    crawl.fill_disk()
    wait_until(lambda: "fetching paused" in crawl.text(), "fetching is paused")
    stop = [*LINKGRAPH, "stop", JOB, "--data-dir", str(data)]
    subprocess.run(stop, cwd=ROOT, capture_output=True, text=True, timeout=60, check=True)
    crawl.wait()  # with the index still full
    text = crawl.text()
    assert f"Job {JOB} stopped: finishing requests in flight" in text, text
    assert re.search(r"\d+ batches of rows stay in the spool", text), text
    assert crawl.spooled()

    crawl.ballast.unlink()
    resumed = Crawl(data, log, "--workers", "1")
    resumed.wait()
    assert not resumed.spooled()
    assert page_fetches(server, web) == web.expected_fetches()  # none fetched again
    assert_index_exact(data, web, server.port)


def test_rows_handed_over_by_a_worker_killed_then_are_stored_once(
    data: Path,
    web: TestWeb,
    served: tuple[LocalWebServer, Path],
    tmp_path: Path,
    own_redis: EmbeddedValkey,
) -> None:
    """The coordinator's spool is full, so the worker's batches wait in the hand-off stream; the
    worker is killed. Once its heartbeat has lapsed its other leases come back, but the pages of
    its handed-over batches stay leased: the coordinator stores them when the index is back, and
    none is fetched or stored again."""
    server = served[0]
    client = redis.Redis.from_url(own_redis.url)
    keys = JobKeys(JOB)
    crawl = first_crawl(served, web, data, tmp_path / "crawl.log", "--workers", "2",
                        "--redis", own_redis.url, "--lease-seconds", "120",
                        "-s", "LINKGRAPH_SPOOL_MAX_BYTES=1")  # fmt: skip
    wait_until(lambda: fetched(server, web) >= 5, "5 pages are fetched")
    crawl.fill_disk()
    wait_until(lambda: client.xlen(keys.rows) >= 1, "the worker hands a batch over")
    (victim,) = worker_pids(crawl.proc.pid)
    os.kill(victim, signal.SIGKILL)
    handed = {
        fp for _, f in client.xrange(keys.rows) for fp in decode(f[b"batch"], "").fingerprints
    }
    assert handed
    wait_until(lambda: client.zcard(keys.workers) == 1, "the dead worker's leases are returned")
    assert None not in client.hmget(keys.leases, sorted(handed))  # still leased, not returned
    crawl.ballast.unlink()
    crawl.wait()

    assert_index_exact(data, web, server.port)  # no page recorded twice
    pages = [url for (url,) in query(data, f"SELECT url FROM pages WHERE job = '{JOB}'")]
    handed_pages = [split_url(url)[1:] for url in pages if fingerprint(url) in handed]
    assert len(handed_pages) == len(handed)
    fetches, expected = page_fetches(server, web), web.expected_fetches()
    again = [page for page in handed_pages if fetches[page] != expected.get(page, 0)]
    assert not again, "a handed-over page was fetched again"


def test_a_spool_left_by_a_killed_crawl_is_stored_by_the_next_run(
    data: Path, web: TestWeb, served: tuple[LocalWebServer, Path], tmp_path: Path
) -> None:
    """The crawl is SIGKILLed in the middle of an outage (its Valkey lives on, as a server of
    its own would). The next run takes the spool over and stores it before new rows: a spooled
    page is never fetched again, and no row is stored twice."""
    server = served[0]
    log = tmp_path / "crawl.log"
    crawl = first_crawl(served, web, data, log, "--workers", "1")
    wait_until(lambda: fetched(server, web) >= 5, "5 pages are fetched")
    crawl.fill_disk()
    wait_until(lambda: len(crawl.spooled()) >= 2, "two batches are spooled")
    crawl.proc.send_signal(signal.SIGKILL)
    crawl.proc.wait()
    spooled = {page.url for path in crawl.spooled() for page in decode(path.read_bytes(), "").pages}
    assert spooled
    crawl.ballast.unlink()
    valkey = json.loads((data / "redis" / "server.json").read_text())["pid"]
    try:
        resumed = Crawl(data, log, "--workers", "1")
        resumed.wait()
    finally:
        os.kill(valkey, signal.SIGTERM)

    text = resumed.text()
    assert re.search(r"\d+ batches left in the spool \S+ by an earlier run", text), text
    assert len(re.findall(REPLAYED, text)) == 1, text
    assert not resumed.spooled()
    fetches = page_fetches(server, web)
    assert set(fetches) == set(web.expected_fetches())
    again = {(h, p) for (h, p), n in fetches.items() if n > web.expected_fetches()[(h, p)]}
    assert not again & {split_url(url)[1:] for url in spooled}, "a spooled page fetched again"
    assert_index_exact(data, web, server.port)
    assert recorded(text) == len(web.expected_pages(server.port))
