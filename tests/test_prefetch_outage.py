"""The frontier thread (LINKGRAPH_FRONTIER_THREAD, set on here whatever the default) in real
crawls that stop taking requests: an index outage that fills the spool and pauses the engine for
longer than a lease, and a stop signal. The requests it leased ahead and never handed to the
engine go back to the frontier, so every page is fetched once and the index ends exact.

The outage is injected as tests/test_outage.py does (a full tmpfs under chDB): root only."""

from __future__ import annotations

import re
import signal
from pathlib import Path

from crawler.demo.server import LocalWebServer
from tests.conftest import page_fetches
from tests.test_outage import (
    REPLAYED,
    Crawl,
    assert_index_exact,
    data,
    fetched,
    first_crawl,
    outlast_a_full_spool,
    recorded,
    wait_until,
)
from tests.testweb import TestWeb

__all__ = ["data"]  # the fixture: a data dir whose index lives on a small tmpfs

THREAD_ON = ("-s", "LINKGRAPH_FRONTIER_THREAD=true")
# Fewer downloads at a time than due hosts: the engine backs out, and the thread's buffer
# (CONCURRENT_REQUESTS / 4) stays full of requests it has not taken.
FEW_AT_A_TIME = ("-s", "CONCURRENT_REQUESTS=8")


def test_a_full_spool_longer_than_a_lease_fetches_no_page_twice(
    data: Path, web: TestWeb, served: tuple[LocalWebServer, Path], tmp_path: Path
) -> None:
    server = served[0]
    log = tmp_path / "crawl.log"
    full_at_once = ("-s", "LINKGRAPH_SPOOL_MAX_BYTES=1")
    crawl = first_crawl(served, web, data, log, "--workers", "1", *full_at_once, *THREAD_ON,
                        *FEW_AT_A_TIME)  # fmt: skip
    outlast_a_full_spool(crawl, server, web)  # three leases long

    text = crawl.text()
    assert "the spool has room again: fetching resumed" in text
    assert len(re.findall(REPLAYED, text)) == 1, text
    assert "Returned" not in text, "a lease ran out during the outage"
    assert "is poison" not in text, text
    assert page_fetches(server, web) == web.expected_fetches()  # no page fetched twice
    assert_index_exact(data, web, server.port)
    assert recorded(text) == len(web.expected_pages(server.port))


def test_a_stopped_crawl_hands_its_buffered_requests_back(
    data: Path, web: TestWeb, served: tuple[LocalWebServer, Path], tmp_path: Path
) -> None:
    """SIGTERM: what is in flight is finished and recorded, what is buffered goes back to the
    frontier unstarted, so nothing is left leased; the resumed job fetches each page once."""
    server = served[0]
    log = tmp_path / "crawl.log"
    crawl = first_crawl(served, web, data, log, "--workers", "1", *THREAD_ON, *FEW_AT_A_TIME)
    wait_until(lambda: fetched(server, web) >= 20, "20 pages are fetched")
    crawl.proc.send_signal(signal.SIGTERM)
    crawl.wait()
    stopped_recorded, queued, unfinished = job_totals(crawl.text())
    assert unfinished == 0, crawl.text()
    assert queued > 0 and 0 < stopped_recorded < len(web.expected_pages(server.port))

    resumed = Crawl(data, log, "--workers", "1", *THREAD_ON)
    resumed.wait()
    assert page_fetches(server, web) == web.expected_fetches()  # none fetched again
    assert_index_exact(data, web, server.port)
    assert job_totals(resumed.text())[0] == len(web.expected_pages(server.port))


def job_totals(text: str) -> tuple[int, int, int]:
    """The last run's summary line: the job's pages recorded, still queued, and unfinished
    (still leased)."""
    totals = re.findall(r"job total (\d+) pages recorded, \d+ URLs seen, (\d+) still queued, "
                        r"(\d+) unfinished", text)  # fmt: skip
    assert totals, text
    recorded, queued, unfinished = map(int, totals[-1])
    return recorded, queued, unfinished
