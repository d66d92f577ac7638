"""Referring-domain changes and their alerts: the test web is crawled, changed
(tests/testweb_changed.py) and re-crawled, by `linkgraph recrawl` and by the schedule of
`linkgraph serve`; `refdomain_changes` must then hold exactly the referring domains the declared
changes add and remove, and a webhook receiver on 127.0.0.1 (aiohttp, in the test) must be
POSTed exactly the watched domains' ones: by `serve`, exactly once, even when it refused them
until `serve` was stopped and started again."""

from __future__ import annotations

import asyncio
import re
import shutil
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from crawler.alerts import AlertConfig, post_alert, refdomain_alert, send_alert
from crawler.demo.server import LocalWebServer, write_hosts_file
from crawler.recrawls import client_rows
from crawler.storage import StorageTarget, connect
from tests.conftest import SHORT_BACKOFF, IndexedWeb, query, run_cli, run_linkgraph
from tests.serving import Served, free_port, serve, wait_until
from tests.testweb import TestWeb, build_test_web
from tests.testweb_changed import UNREACHABLE, ChangedWeb, build_changed_web

# Watched: example.com gains and loses referring domains, example.net only loses one, and
# example.info changes in nothing (it gets no alert).
WATCHED = ("example.com", "example.info", "example.net")
# (dst_domain, src_domain) -> (change, backlinks, reasons): a re-crawl's referring-domain changes
Truth = dict[tuple[str, str], tuple[str, int, tuple[str, ...]]]


class Receiver:
    """A webhook receiver on 127.0.0.1, in a thread of its own: every POST's path and JSON.
    /fail answers 500; /flaky 500 to its first POST, then 200; /slow answers after 5 s; /gate
    500 until `gate_open`. `taken` has the POSTs answered 200."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, Any]] = []
        self.taken: list[tuple[str, Any]] = []
        self.gate_open = False
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Receiver:
        self._thread.start()
        assert self._ready.wait(30), "the receiver did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def bodies(self, path: str) -> list[Any]:
        return [body for p, body in self.posts if p == path]

    def taken_bodies(self, path: str) -> list[Any]:
        return [body for p, body in self.taken if p == path]

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.posts.append((request.path, body))
        if request.path == "/slow":
            await asyncio.sleep(5)
        first_flaky = request.path == "/flaky" and len(self.bodies("/flaky")) == 1
        shut = request.path == "/gate" and not self.gate_open
        if request.path == "/fail" or first_flaky or shut:
            return web.Response(status=500)
        self.taken.append((request.path, body))
        return web.json_response({"ok": True})

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._serve())

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        app = web.Application()
        app.router.add_post("/{name}", self._handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        self.port = runner.addresses[0][1]
        self._ready.set()
        await self._stop.wait()
        await runner.cleanup()


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r


# -- ground truth -------------------------------------------------------------------------------


def live_links(web: TestWeb, port: int) -> set[tuple[str, str]]:
    """(src, dst) of every live link of a crawl of `web` (a noindex page has none)."""
    at = lambda url: url.replace("{port}", str(port))  # noqa: E731
    return {
        (at(src), at(link.url))
        for src, o in web.outcomes.items() if not o.noindex
        for link, _ in o.links if link.url
    }  # fmt: skip


def refdomain_truth(
    before: TestWeb, changed: ChangedWeb, port: int, unreachable: frozenset[str] = UNREACHABLE
) -> Truth:
    """The referring domains that re-crawling the pages of `before`, once changed, adds and
    removes: from the live links of the first crawl and the declared new and lost links."""
    new, lost = changed.expected_changes(before, port, unreachable)
    links_before = live_links(before, port)
    links_after = (links_before - {(c.src, c.dst) for c in lost}) | {(c.src, c.dst) for c in new}
    domains = before.domains()

    def pair(src: str, dst: str) -> tuple[str, str]:
        return domains[dst.split("/")[2].split(":")[0]], domains[src.split("/")[2].split(":")[0]]

    def referring(links: set[tuple[str, str]]) -> Counter[tuple[str, str]]:
        return Counter(pair(s, d) for s, d in links if pair(s, d)[0] != pair(s, d)[1])

    had, has = referring(links_before), referring(links_after)
    truth: Truth = {key: ("new", n, ()) for key, n in has.items() if key not in had}
    for key, n in had.items():
        if key not in has:
            reasons = sorted({c.reason for c in lost if pair(c.src, c.dst) == key})
            truth[key] = ("lost", n, tuple(reasons))
    return truth


def expected_alert(job: str, truth: Truth, watched: tuple[str, ...]) -> dict[str, Any]:
    """The JSON POSTed for `truth`, but for the times of the changes."""
    domains = []
    for domain in sorted(watched):
        changes = sorted((src, v) for (dst, src), v in truth.items() if dst == domain)
        new = [{"src_domain": s, "backlinks": n} for s, (kind, n, _) in changes if kind == "new"]
        lost = [{"src_domain": s, "backlinks": n, "reasons": list(r)}
                for s, (kind, n, r) in changes if kind == "lost"]  # fmt: skip
        if new or lost:
            domains.append({"domain": domain, "new": new, "lost": lost})
    return {"event": "refdomain_changes", "job": job, "recrawl_of": job.split(".r")[0],
            "domains": domains}  # fmt: skip


def without_times(alert: dict[str, Any], since: datetime) -> dict[str, Any]:
    """`alert` without its times, once each is checked to be an ISO UTC time after `since`."""
    for domain in alert["domains"]:
        for change in domain["new"] + domain["lost"]:
            at = datetime.fromisoformat(change.pop("at").replace("Z", "+00:00"))
            assert at.tzinfo == timezone.utc and at >= since
    return alert


# -- `linkgraph recrawl` ------------------------------------------------------------------------


@dataclass
class Recrawled:
    data_dir: Path
    web: ChangedWeb
    started: datetime
    stderr: str
    truth: Truth


def changed_hosts_file(tmp: Path, web: ChangedWeb) -> Path:
    """The changed web's hosts on 127.0.0.1, but UNREACHABLE's on an address nobody listens on."""
    write_hosts_file(tmp / "down", sorted(UNREACHABLE), address="127.0.0.2")
    write_hosts_file(tmp / "up", web.hosts())
    hosts_file = tmp / "changed-hosts"
    hosts_file.write_text((tmp / "down").read_text() + (tmp / "up").read_text())  # first wins
    return hosts_file


@pytest.fixture(scope="module")
def recrawled(
    indexed_web: IndexedWeb, receiver: Receiver, tmp_path_factory: pytest.TempPathFactory
) -> Recrawled:
    tmp = tmp_path_factory.mktemp("alerts")
    data = tmp / "data"
    shutil.copytree(indexed_web.data_dir, data, symlinks=True)
    web = build_changed_web()
    hosts_file = changed_hosts_file(tmp, web)
    started = datetime.now(timezone.utc)
    watch = [arg for domain in WATCHED for arg in ("--watch-domain", domain)]
    with LocalWebServer(web, port=indexed_web.port):
        proc = run_linkgraph(
            "recrawl", "v1", "--data-dir", str(data), "--hosts-file", str(hosts_file),
            "--allow-private", "--delay", "0", "-q", *SHORT_BACKOFF, *watch,
            "--alert-webhook", receiver.url("/hook"),
        )  # fmt: skip
    truth = refdomain_truth(indexed_web.web, web, indexed_web.port)
    return Recrawled(data, web, started, proc.stderr, truth)


def test_the_truth_has_what_the_tests_need(recrawled: Recrawled) -> None:
    kinds = {dst: {kind for (d, _), (kind, _, _) in recrawled.truth.items() if d == dst}
             for dst in WATCHED}  # fmt: skip
    assert kinds == {"example.com": {"new", "lost"}, "example.net": {"lost"}, "example.info": set()}


def test_refdomain_changes_of_the_recrawl(recrawled: Recrawled) -> None:
    rows = query(recrawled.data_dir, "SELECT dst_domain, src_domain, change, backlinks, reasons "
                 "FROM refdomain_changes WHERE job = 'v1.r1'")  # fmt: skip
    got = {(dst, src): (change, n, tuple(reasons)) for dst, src, change, n, reasons in rows}
    assert got == recrawled.truth and len(rows) == len(got)
    times = query(recrawled.data_dir, "SELECT min(at) FROM refdomain_changes WHERE job = 'v1.r1'")
    assert times[0][0] >= recrawled.started.replace(tzinfo=None)


def test_refdomain_changes_of_the_first_crawl(
    indexed_web: IndexedWeb, recrawled: Recrawled
) -> None:
    """The first crawl gained every referring domain of its live links, and lost none."""
    rows = query(recrawled.data_dir, "SELECT dst_domain, src_domain, change, backlinks, reasons "
                 "FROM refdomain_changes WHERE job = 'v1'")  # fmt: skip
    domains = indexed_web.web.domains()
    pairs = Counter(
        (domains[dst.split("/")[2].split(":")[0]], domains[src.split("/")[2].split(":")[0]])
        for src, dst in live_links(indexed_web.web, indexed_web.port)
    )
    expected = {key: ("new", n, ()) for key, n in pairs.items() if key[0] != key[1]}
    got = {(dst, src): (change, n, tuple(reasons)) for dst, src, change, n, reasons in rows}
    assert got == expected and len(rows) == len(expected)


def test_recrawl_posts_the_watched_domains_changes(
    recrawled: Recrawled, receiver: Receiver
) -> None:
    (alert,) = receiver.bodies("/hook")
    expected = expected_alert("v1.r1", recrawled.truth, WATCHED)
    assert [d["domain"] for d in expected["domains"]] == ["example.com", "example.net"]
    assert without_times(alert, recrawled.started) == expected
    counts = ", ".join(f"{d['domain']} +{len(d['new'])} -{len(d['lost'])}"
                       for d in expected["domains"])  # fmt: skip
    # the line names the webhook by its origin: a receiver's secret is often in its path
    assert f"job v1.r1: alert sent to {receiver.url('')}: {counts}\n" in recrawled.stderr


# -- failures: one line, nothing else changes --------------------------------------------------


def alert_line(recrawled: Recrawled, url: str, *, allow_private: bool = True) -> tuple[str, bool]:
    config = AlertConfig(url, WATCHED, allow_private)
    client = connect(StorageTarget("", recrawled.data_dir))
    try:
        report = send_alert(client_rows(client), "v1.r1", config)
    finally:
        client.close()
    return report.line, report.failed


def test_a_failed_post_is_retried_once_then_one_line(
    recrawled: Recrawled, receiver: Receiver
) -> None:
    before = len(receiver.posts)
    line, failed = alert_line(recrawled, receiver.url("/fail"))
    assert failed and line == f"job v1.r1: the alert to {receiver.url('')} failed: HTTP 500"
    line, failed = alert_line(recrawled, receiver.url("/flaky"))
    assert not failed and line.startswith(f"job v1.r1: alert sent to {receiver.url('')}: ")
    assert len(receiver.bodies("/fail")) == len(receiver.bodies("/flaky")) == 2
    assert receiver.bodies("/flaky")[0] == receiver.bodies("/flaky")[1]
    assert len(receiver.posts) == before + 4


def test_no_answer_in_time_and_no_server(recrawled: Recrawled, receiver: Receiver) -> None:
    client = connect(StorageTarget("", recrawled.data_dir))
    try:
        alert = refdomain_alert(client_rows(client), "v1.r1", WATCHED)
    finally:
        client.close()
    slow = asyncio.run(post_alert(receiver.url("/slow"), alert, allow_private=True, timeout=0.5,
                                  retry_after=0))  # fmt: skip
    assert slow == "no answer in 0.5s" and len(receiver.bodies("/slow")) == 2
    closed = f"http://127.0.0.1:{free_port()}"
    line, failed = alert_line(recrawled, closed + "/hook")
    assert failed and line == f"job v1.r1: the alert to {closed} failed: Connection refused"


@pytest.mark.parametrize(
    ("host", "why"),
    [("127.0.0.1", "127.0.0.1 is not a public address"),
     ("localhost", "localhost resolves to 127.0.0.1, not a public address")],
)  # fmt: skip
def test_a_private_webhook_needs_allow_private(
    recrawled: Recrawled, receiver: Receiver, host: str, why: str
) -> None:
    before = len(receiver.posts)
    url = f"http://{host}:{receiver.port}"
    line, failed = alert_line(recrawled, url + "/hook", allow_private=False)
    assert failed and line == (
        f"job v1.r1: the alert to {url} failed: {why} (allow one with --allow-private)"
    )
    assert len(receiver.posts) == before


def test_no_watched_domain_changed_no_post(recrawled: Recrawled, receiver: Receiver) -> None:
    before = len(receiver.posts)
    config = AlertConfig(receiver.url("/hook"), ("example.info",), True)
    client = connect(StorageTarget("", recrawled.data_dir))
    try:
        report = send_alert(client_rows(client), "v1.r1", config)
    finally:
        client.close()
    assert report.line == (
        "job v1.r1: the watched domains gained and lost no referring domain: no alert"
    )
    assert len(receiver.posts) == before


# -- the service's schedule ---------------------------------------------------------------------


@dataclass
class Scheduled:
    """A job crawled from the test web with a schedule of 1 s and a webhook; its re-crawls
    fetch the changed web, served on the same port."""

    data: Path
    hosts_file: Path
    port: int
    pages: list[tuple[Any, ...]]
    truth: Truth  # what its first re-crawl changes


def scheduled_job(tmp: Path, job: str, webhook: str) -> Scheduled:
    data = tmp / "data"
    first = build_test_web()
    watch = [arg for domain in WATCHED for arg in ("--watch-domain", domain)]
    with LocalWebServer(first) as server:
        port = server.port
        write_hosts_file(tmp / "hosts", first.hosts())
        run_linkgraph(
            "crawl", *first.seeds(port), "--job", job, "--data-dir", str(data),
            "--hosts-file", str(tmp / "hosts"), "--allow-private", "--delay", "0", "-q",
            *SHORT_BACKOFF, "--recrawl-every", "1", *watch, "--alert-webhook", webhook,
        )  # fmt: skip
    pages = query(data, f"SELECT url FROM pages WHERE job = '{job}' ORDER BY url")
    # the job's hosts send every name to the server, so none is unreachable here
    truth = refdomain_truth(first, build_changed_web(), port, unreachable=frozenset())
    return Scheduled(data, tmp / "hosts", port, pages, truth)


def ended(service: Served, job: str) -> bool:
    """The job's end is recorded: its rows are stored."""
    status, stats = service.call("GET", f"/api/jobs/{job}")
    return status == 200 and stats["summary"] is not None


def test_serve_recrawls_on_schedule_and_posts(
    receiver: Receiver, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """A job crawled with a schedule of 1 s and a webhook; the web changes; `linkgraph serve`
    re-crawls it at once (w.r1) and posts its changes, then again (w.r2), which changes
    nothing. `linkgraph recrawl w` by hand then alerts as the job's spec says: nothing to say."""
    tmp = tmp_path_factory.mktemp("schedule")
    job = scheduled_job(tmp, "w", receiver.url("/scheduled"))
    data, truth = job.data, job.truth
    started = datetime.now(timezone.utc)
    with LocalWebServer(build_changed_web(), port=job.port):
        with serve(data) as service:
            wait_until(lambda: ended(service, "w.r1"), "the scheduled re-crawl w.r1 has ended")
            wait_until(lambda: bool(receiver.bodies("/scheduled")), "the alert of w.r1 is POSTed")
            wait_until(lambda: ended(service, "w.r2"), "the next re-crawl w.r2 has ended")
            states = [service.ok("GET", f"/api/jobs/{job}")["state"] for job in ("w.r1", "w.r2")]
            again = service.sql("SELECT count() FROM refdomain_changes WHERE job = 'w.r2'")
            refetched = service.sql("SELECT url FROM pages WHERE job = 'w.r1' ORDER BY url")
        by_hand = run_linkgraph(
            "recrawl", "w", "--data-dir", str(data), "--hosts-file", str(job.hosts_file),
            "--allow-private", "--delay", "0", "-q", *SHORT_BACKOFF,
        )  # fmt: skip
    (alert,) = receiver.bodies("/scheduled")
    assert without_times(alert, started) == expected_alert("w.r1", truth, WATCHED)
    assert states == ["finished", "finished"] and again.strip() == "0"
    assert refetched.split() == [url for (url,) in job.pages]
    rows = query(data, "SELECT dst_domain, src_domain, change, backlinks, reasons "
                 "FROM refdomain_changes WHERE job = 'w.r1'")  # fmt: skip
    assert {(d, s): (c, n, tuple(r)) for d, s, c, n, r in rows} == truth
    assert re.search(
        r"^job w\.r\d+: the watched domains gained and lost no referring domain: no alert$",
        by_hand.stderr, re.M,
    )  # fmt: skip
    assert len(receiver.bodies("/scheduled")) == 1


def test_an_alert_refused_is_kept_and_sent_once_after_a_restart(
    receiver: Receiver, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The webhook refuses the alert of re-crawl p.r1 (500, and 500 to the retry), and
    `linkgraph serve` is stopped (SIGTERM). The webhook then takes alerts, and `serve`, started
    again, sends the kept alert at once: exactly once, with the exact gained and lost referring
    domains, and not again while later re-crawls end."""
    tmp = tmp_path_factory.mktemp("pending")
    job = scheduled_job(tmp, "p", receiver.url("/gate"))
    started = datetime.now(timezone.utc)
    kept = (f"job p.r1: the alert to {receiver.url('')} failed: HTTP 500: kept, tried again in "
            "60s and when the service starts again\n")  # fmt: skip
    with LocalWebServer(build_changed_web(), port=job.port):
        with serve(job.data) as first:
            wait_until(lambda: kept in first.output(), "the alert is refused, and kept")
            assert first.stop() == 0
        receiver.gate_open = True
        with serve(job.data) as second:
            before = {j["job"] for j in second.ok("GET", "/api/jobs")["jobs"]}
            wait_until(lambda: len(receiver.taken_bodies("/gate")) == 1, "the kept alert is sent")

            def later_recrawl_ended() -> bool:
                jobs = second.ok("GET", "/api/jobs")["jobs"]
                return any(j["job"] not in before and j["summary"] is not None for j in jobs)

            wait_until(later_recrawl_ended, "a re-crawl started after the restart has ended")
    (alert,) = receiver.taken_bodies("/gate")
    refused = receiver.bodies("/gate")[:2]
    assert refused == [alert, alert] and len(receiver.bodies("/gate")) == 3
    assert without_times(alert, started) == expected_alert("p.r1", job.truth, WATCHED)
    assert "the alert to" not in second.output(), second.output()


@pytest.mark.parametrize(
    ("command", "flags", "line"),
    [(["recrawl", "v1"], ["--watch-domain", "www.example.com"], "argument --watch-domain: "
      "'www.example.com' is a host name: give its registered domain, example.com"),
     (["recrawl", "v1"], ["--alert-webhook", "ftp://example.net/"], "argument --alert-webhook: "
      "'ftp://example.net/' is not an http(s) URL"),
     (["recrawl", "v1"], ["--alert-webhook", "https://u:pw@example.net/"], "argument "
      "--alert-webhook: it would save a password with the job: put the receiver's secret in "
      "the URL's path or query"),
     (["crawl", "https://example.org/"], ["--recrawl-every", "soon"], "argument "
      "--recrawl-every: 'soon' is not a number")],
)  # fmt: skip
def test_bad_alert_flags_are_one_line(
    tmp_path: Path, command: list[str], flags: list[str], line: str
) -> None:
    status, out, err = run_cli(*command, "--data-dir", str(tmp_path / "data"), *flags)
    assert (status, out, err) == (2, "", f"linkgraph: error: {line}\n")
    assert not (tmp_path / "data").exists()
