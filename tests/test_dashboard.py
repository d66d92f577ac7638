"""The dashboard in a real browser: Debian's headless Chromium, driven by Playwright, against a
`linkgraph serve` subprocess on a data dir of its own. A job is started from the page's form,
crawls the test web, and the page's figures must equal the index's (read over /api/sql), the
reports' and the test web's ground truth. Screenshots go to the test's tmp dir; with
LINKGRAPH_UPDATE_SCREENSHOTS=1 (or when missing) they are also copied to docs/ for the README.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.error import HTTPError
from urllib.parse import urlencode, urlsplit
from urllib.request import urlopen

import pytest
from playwright.sync_api import expect, sync_playwright

from crawler.demo.server import LocalWebServer, write_hosts_file
from tests.conftest import LINKGRAPH, RETRY_BACKOFF, ROOT
from tests.indextruth import IndexTruth
from tests.testweb import TestWeb, build_test_web

CHROMIUM = Path("/usr/bin/chromium")  # Debian's; Playwright's own browsers are never downloaded
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip
JOB = "dash"
DELAY = 0.05
SERVE_START_S = 60.0  # the service is up (embedded Valkey and index) within this
CRAWL_S = 240.0  # bounds, not measurements: the test web crawls in well under this
DOCS = ROOT / "docs"


@dataclass(frozen=True)
class Served:
    """The test web, and a `linkgraph serve` with the data dir it owns."""

    web: TestWeb
    port: int
    hosts_file: Path
    url: str
    data_dir: Path
    shots: Path

    def get(self, path: str, **params: Any) -> bytes:
        query = f"?{urlencode(params)}" if params else ""
        with urlopen(f"{self.url}{path}{query}", timeout=60) as response:
            return bytes(response.read())

    def json(self, path: str, **params: Any) -> Any:
        return json.loads(self.get(path, **params))

    def json_error(self, path: str, **params: Any) -> str:
        """The one-line error of a request the API refuses with 400."""
        try:
            self.get(path, **params)
        except HTTPError as exc:
            assert exc.code == 400, exc.code
            return str(json.loads(exc.read())["error"])
        raise AssertionError(f"{path} {params} was not refused")

    def sql(self, query: str) -> list[list[Any]]:
        """Rows of a query, over /api/sql, as the index answers it."""
        body = self.json("/api/sql", query=query, format="JSONCompact")
        return [list(row) for row in body["data"]]


def start_serve(data_dir: Path, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    """`linkgraph serve` on any free loopback port; returns it and its URL."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [*LINKGRAPH, "serve", "--data-dir", str(data_dir), "--port", "0"],
            stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT,
        )  # fmt: skip
    deadline = time.monotonic() + SERVE_START_S
    while time.monotonic() < deadline:
        for line in log.read_text("utf-8", "replace").splitlines():
            if line.startswith("linkgraph serve: http://"):
                return proc, line.split()[2]
        if proc.poll() is not None:
            raise AssertionError(f"serve exited {proc.returncode}:\n{log.read_text('utf-8')}")
        time.sleep(0.1)
    stop_serve(proc)
    raise AssertionError(f"serve did not start:\n{log.read_text('utf-8')}")


def stop_serve(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp("dashboard")
    web = build_test_web()
    with LocalWebServer(web) as server:
        write_hosts_file(tmp / "hosts", web.hosts())
        proc, url = start_serve(tmp / "data", tmp / "serve.log")
        try:
            yield Served(web, server.port, tmp / "hosts", url, tmp / "data", tmp)
        finally:
            stop_serve(proc)


@pytest.fixture(scope="module")
def page(served: Served) -> Iterator[Any]:
    if not CHROMIUM.is_file():  # .ci/run installs it
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium", pytrace=False)
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        tab = browser.new_page(viewport={"width": 1400, "height": 800})
        errors: list[str] = []
        tab.on("pageerror", lambda exc: errors.append(str(exc)))
        tab.set_default_timeout(CRAWL_S * 1000)
        tab.goto(served.url + "/")
        yield tab
        browser.close()
        assert errors == [], errors


def shown(card: Any, field: str) -> str:
    return str(card.locator(f'[data-field="{field}"]').inner_text())


def number(text: str) -> int:
    return int(text.replace(",", ""))


def table(locator: Any) -> dict[str, str]:
    """key -> last cell of each body row of a dashboard table."""
    rows = locator.locator("tbody tr")
    return {
        rows.nth(i).get_attribute("data-key"): rows.nth(i).locator("td").last.inner_text()
        for i in range(rows.count())
    }


def save_screenshot(page: Any, served: Served, name: str) -> Path:
    path = served.shots / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    docs = DOCS / f"{name}.png"
    if os.environ.get("LINKGRAPH_UPDATE_SCREENSHOTS") == "1" or not docs.exists():
        shutil.copyfile(path, docs)
    return path


def test_a_job_started_from_the_page_shows_the_index_figures(served: Served, page: Any) -> None:
    page.fill("textarea[name=seeds]", "\n".join(served.web.seeds(served.port)))
    page.fill("input[name=job]", JOB)
    page.fill("input[name=delay]", str(DELAY))
    page.check("input[name=allow_private]")
    page.click("details summary")
    page.fill("textarea[name=hosts]", served.hosts_file.read_text("ascii"))
    page.fill("textarea[name=spec]", json.dumps({"retry_backoff": RETRY_BACKOFF}))
    page.click("#job-form button[type=submit]")
    card = page.locator(f'article[data-job="{JOB}"]')
    state = card.locator('[data-field="state"]')

    # pause and resume from the page while the workers start
    card.locator('[data-action="pause"]:not([disabled])').click()
    expect(state).to_have_text("paused")
    assert served.json(f"/api/jobs/{JOB}")["state"] == "paused"
    card.locator('[data-action="resume"]:not([disabled])').click()
    page.wait_for_function(
        f"document.querySelector('article[data-job=\"{JOB}\"] [data-field=state]')"
        ".textContent !== 'paused'"
    )
    expect(state).to_have_text("finished", timeout=CRAWL_S * 1000)
    polled = int(page.get_attribute("body", "data-polled") or 0)
    page.wait_for_function(f"Number(document.body.dataset.polled) > {polled}")
    save_screenshot(page, served, "dashboard")

    stats = served.json(f"/api/jobs/{JOB}")
    expected_pages = served.web.expected_pages(served.port)
    ((pages, links),) = served.sql(
        f"SELECT (SELECT count() FROM pages WHERE job = '{JOB}'), "
        f"(SELECT count() FROM links WHERE job = '{JOB}')"
    )
    assert number(shown(card, "pages")) == stats["pages"] == int(pages) == len(expected_pages)
    expected_links = served.web.expected_typed_links(served.port)
    assert number(shown(card, "links")) == stats["links"] == int(links) == len(expected_links)
    for field in ("queued", "in_flight", "hosts_queued", "hosts_parked", "robots_refused"):
        assert number(shown(card, field)) == stats[field], field
    assert shown(card, "live_workers") == "0" and shown(card, "eta") == "\u2013"  # no ETA: no max
    assert card.locator('[data-action="stop"]').is_disabled()

    # responses by status class: the page's table, the index's pages, the ground truth
    classes = {"2": "2xx", "3": "3xx", "4": "4xx", "5": "5xx"}
    truth = Counter(
        classes.get(str(s)[0], "none") if s else "none" for s in expected_pages.values()
    )
    index = dict(served.sql(
        f"SELECT if(status = 0, 'none', concat(toString(intDiv(status, 100)), 'xx')) AS class, "
        f"count() FROM pages WHERE job = '{JOB}' GROUP BY class"
    ))  # fmt: skip
    on_page = {k: number(v) for k, v in table(card.locator(".status-table")).items() if v != "0"}
    api = {k: n for k, n in stats["status"].items() if n}
    assert on_page == {k: int(v) for k, v in index.items()} == truth == api
    errors = {k: number(v) for k, v in table(card.locator(".error-table")).items() if k}
    assert errors == stats["errors"]

    # the hosts with the most pages, each with its count in the index
    hosts = {k: number(v) for k, v in table(card.locator(".host-table")).items()}
    per_host = Counter(urlsplit(url).hostname for url in expected_pages)
    assert len(hosts) == min(10, len(per_host))
    assert all(per_host[host] == n for host, n in hosts.items())
    assert sorted(hosts.values(), reverse=True) == sorted(per_host.values(), reverse=True)[:10]
    # the end summary: its slowest and most failing hosts
    summary = stats["summary"]
    slowest = table(card.locator(".slow-table"))
    assert list(slowest) == [h["host"] for h in summary["slowest_hosts"]]
    failing = table(card.locator(".failing-table"))
    assert {k: number(v) for k, v in failing.items() if k} == {
        h["host"]: h["failures"] for h in summary["most_failing_hosts"]
    }
    # the pages/s chart has a line
    assert card.locator(".rate-chart svg path.line").count() == 1


def test_a_domain_profile_shows_the_reports_figures(served: Served, page: Any) -> None:
    page.fill("#search-domain", "not a domain")
    page.click("#search button[type=submit]")
    page.wait_for_selector('body[data-domain-loaded="error"]')
    error = served.json_error("/api/reports/profile", target="not a domain", format="json")
    assert page.locator("#domain-error").inner_text() == error and "\n" not in error

    target = "example.com"
    page.fill("#search-domain", target)
    page.click("#search button[type=submit]")
    page.wait_for_selector(f'body[data-domain-loaded="{target}"]')
    save_screenshot(page, served, "dashboard-domain")

    profile = served.json("/api/reports/profile", target=target, format="json")
    truth = IndexTruth(served.web, served.port)
    expected = truth.profile(truth.of(target))
    figures = page.locator("#domain-figures")
    for field in ("referring_domains", "backlinks", "referring_pages", "linked_pages"):
        assert number(shown(figures, field)) == profile[field] == expected[field], field
    ratio = expected["follow_backlinks"] / expected["backlinks"]
    assert shown(figures, "follow_ratio") == f"{profile['follow_ratio'] * 100:.1f}%"
    assert shown(figures, "follow_ratio") == f"{ratio * 100:.1f}%"
    assert shown(figures, "authority") == f"{profile['authority']:.1f}"

    # over time: the live totals at the end, the backlinks gained and lost in all
    history = served.json("/api/reports/history", target=target, step=1, limit=1000)["data"]
    chart = page.locator("#history-chart")
    assert chart.locator("svg path.line").count() == 2
    latest = (history[0]["backlinks"], history[0]["referring_domains"])
    assert (
        (
            int(chart.get_attribute("data-backlinks") or -1),
            int(chart.get_attribute("data-referring-domains") or -1),
        )
        == latest
        == (expected["backlinks"], expected["referring_domains"])
    )
    assert number(shown(figures, "new_backlinks")) == sum(
        int(r["new_backlinks"]) for r in history
    ) == expected["backlinks"]  # fmt: skip
    assert number(shown(figures, "lost_backlinks")) == 0

    changes = served.json("/api/reports/changes", target=target, since="1970-01-01", limit=15)
    rows = page.locator("#changes tbody tr")
    assert rows.count() == len(changes["data"]) == min(15, expected["backlinks"])
    assert [rows.nth(i).locator("a").first.get_attribute("href") for i in range(rows.count())] == [
        r["src_url"] for r in changes["data"]
    ]

    def column(box: str, i: int) -> list[str]:
        cells = page.locator(f"{box} tbody tr td:nth-child({i})")
        return [cells.nth(n).inner_text() for n in range(cells.count())]

    anchors = profile["top_anchors"]
    assert column("#top-anchors", 1) == [r["anchor"] or "(no text)" for r in anchors]
    assert [number(n) for n in column("#top-anchors", 2)] == [r["backlinks"] for r in anchors]
    pages = page.locator("#top-pages tbody a")
    assert [pages.nth(i).get_attribute("href") for i in range(pages.count())] == [
        r["dst_url"] for r in profile["top_pages"]
    ]
    assert column("#top-refdomains", 1) == [
        r["src_domain"] for r in profile["top_referring_domains"]
    ]
    types = {k: number(v) for k, v in table(page.locator("#type-mix")).items()}
    assert types == {r["type"]: r["referring_domains"] for r in profile["type_mix"]}
    tlds = page.locator("#tld-mix .bar-row")
    assert {
        tlds.nth(i).get_attribute("data-tld"): number(tlds.nth(i).locator(".num").inner_text())
        for i in range(tlds.count())
    } == {r["tld"]: r["referring_domains"] for r in profile["tld_mix"]}


def test_the_stop_button_stops_a_job(served: Served, page: Any) -> None:
    page.goto(served.url + "/#/jobs")
    page.fill("input[name=job]", "dash-stop")
    page.fill("input[name=delay]", "5")  # slow enough to be running when stopped
    page.click("#job-form button[type=submit]")
    card = page.locator('article[data-job="dash-stop"]')
    card.locator('[data-action="stop"]:not([disabled])').click()
    expect(card.locator('[data-field="state"]')).to_have_text("stopped", timeout=CRAWL_S * 1000)
    stats = served.json("/api/jobs/dash-stop")
    ((pages,),) = served.sql("SELECT count() FROM pages WHERE job = 'dash-stop'")
    assert stats["state"] == "stopped" and stats["pages"] == int(pages)
    polled = int(page.get_attribute("body", "data-polled") or 0)
    page.wait_for_function(f"Number(document.body.dataset.polled) > {polled}")
    assert number(shown(card, "pages")) == int(pages) < len(served.web.expected_pages(served.port))
    assert card.locator("button[data-action]:not([disabled])").count() == 1  # resume only
