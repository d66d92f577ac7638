"""History across crawls: the test web is crawled (job v1), changed (tests/testweb_changed.py),
served again on the same port and re-crawled with `linkgraph recrawl v1`; `new_links`,
`lost_links` and `linkgraph changes` must then equal the declared changes exactly."""

from __future__ import annotations

import json
import shutil
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pytest

from crawler.demo.server import LocalWebServer, RequestLog, write_hosts_file
from crawler.reports import run_report
from crawler.storage import StorageTarget, connect
from tests.conftest import IndexedWeb, query, run_cli, run_linkgraph
from tests.indextruth import IndexTruth
from tests.testweb_changed import UNREACHABLE, Change, ChangedWeb, build_changed_web


@dataclass
class Recrawl:
    data_dir: Path
    web: ChangedWeb
    started: datetime
    stderr: str
    log: list[RequestLog]


@pytest.fixture(scope="module")
def rc(indexed_web: IndexedWeb, tmp_path_factory: pytest.TempPathFactory) -> Recrawl:
    tmp = tmp_path_factory.mktemp("history")
    data = tmp / "data"
    shutil.copytree(indexed_web.data_dir, data, symlinks=True)
    web = build_changed_web()
    hosts_file = tmp / "hosts"
    write_hosts_file(tmp / "down", sorted(UNREACHABLE), address="127.0.0.2")  # nothing listens
    write_hosts_file(tmp / "up", web.hosts())
    hosts_file.write_text((tmp / "down").read_text() + (tmp / "up").read_text())  # first wins
    started = datetime.now(timezone.utc)
    with LocalWebServer(web, port=indexed_web.port) as server:
        proc = run_linkgraph(
            "recrawl", "v1", "--data-dir", str(data), "--hosts-file", str(hosts_file),
            "--allow-private", "--delay", "0", "-q",
        )  # fmt: skip
        log = server.requests()
    return Recrawl(data, web, started, proc.stderr, log)


def changes(indexed: IndexedWeb, rc: Recrawl) -> tuple[set[Change], set[Change]]:
    return rc.web.expected_changes(indexed.web, indexed.port)


def test_recrawl_fetches_the_indexed_pages_only(indexed_web: IndexedWeb, rc: Recrawl) -> None:
    assert "re-crawling" in rc.stderr and "as job v1.r1" in rc.stderr
    first = query(rc.data_dir, "SELECT url FROM pages WHERE job = 'v1' ORDER BY url")
    second = query(rc.data_dir, "SELECT url FROM pages WHERE job = 'v1.r1' ORDER BY url")
    assert second == first
    robots = indexed_web.web.robots_paths()
    fetched = {(e.host, e.path) for e in rc.log if (e.host, e.path) not in robots}
    assert fetched <= indexed_web.web.expected_requests(), "a URL not indexed before was fetched"
    statuses = dict(query(rc.data_dir, "SELECT url, status FROM pages WHERE job = 'v1.r1'"))
    port = indexed_web.port
    assert statuses[f"http://dave.blogspot.com:{port}/"] == 410
    assert statuses[f"http://bob.github.io:{port}/projects"] == 404


def test_new_links_of_the_first_crawl_are_all_its_live_links(
    indexed_web: IndexedWeb, rc: Recrawl
) -> None:
    rows = query(rc.data_dir, "SELECT src_url, dst_url FROM new_links WHERE job = 'v1'")
    port = indexed_web.port
    expected = {
        (src.replace("{port}", str(port)), (link.url or "").replace("{port}", str(port)))
        for src, o in indexed_web.web.outcomes.items()
        if not o.noindex
        for link, _ in o.links
    }
    assert set(rows) == expected and len(rows) == len(expected)


def test_new_and_lost_links_equal_the_declared_changes(
    indexed_web: IndexedWeb, rc: Recrawl
) -> None:
    new, lost = changes(indexed_web, rc)
    rows = query(rc.data_dir, "SELECT src_url, dst_url, seen_at FROM new_links WHERE job = 'v1.r1'")
    assert {Change(s, d, "", "") for s, d, _ in rows} == new and len(rows) == len(new)
    assert all(at >= rc.started.replace(tzinfo=None) for *_, at in rows)
    rows = query(rc.data_dir, "SELECT src_url, dst_url, reason, detail FROM lost_links")
    assert {Change(*r) for r in rows} == lost and len(rows) == len(lost)
    reasons = {c.reason for c in lost}
    assert reasons == {
        "link_removed", "page_404", "page_410", "page_redirects", "page_noindex", "fetch_failed"
    }  # fmt: skip
    failed = {c.detail for c in lost if c.reason == "fetch_failed"}
    assert failed == {"robots: connection refused"}


def test_lost_links_keep_when_they_were_last_seen(rc: Recrawl) -> None:
    rows = query(
        rc.data_dir,
        "SELECT l.last_seen, p.fetched_at FROM lost_links AS l INNER JOIN pages AS p "
        "ON p.url = l.src_url AND p.job = 'v1'",
    )
    assert rows and all(last == fetched for last, fetched in rows)
    # the backlinks index keeps them, last seen at the first crawl; links of a page that
    # turned noindex are still on it, so there the second crawl saw them too
    rows = query(
        rc.data_dir,
        "SELECT l.reason, b.last_seen > l.last_seen, count() FROM lost_links AS l "
        "INNER JOIN backlinks AS b ON b.src_url = l.src_url AND b.dst_url = l.dst_url "
        "GROUP BY 1, 2 ORDER BY 1, 2",
    )
    assert {(reason, bool(later)) for reason, later, _ in rows} == {
        (reason, reason == "page_noindex") for reason, _, _ in rows
    }
    cross = query(rc.data_dir, "SELECT count() FROM lost_links WHERE src_domain != dst_domain")
    assert [(sum(n for *_, n in rows),)] == cross


@pytest.mark.parametrize("domain", ["example.com", "deals.example.biz", "shop.example.co.uk"])
def test_changes_command(indexed_web: IndexedWeb, rc: Recrawl, domain: str) -> None:
    new, lost = changes(indexed_web, rc)
    domains = indexed_web.web.domains()

    def host(url: str) -> str:
        return url.split("/")[2].split(":")[0]

    def wanted(c: Change) -> bool:
        dst, src = domains[host(c.dst)], domains[host(c.src)]
        target = domain if domain in set(domains.values()) else None
        return src != dst and (dst == target if target else host(c.dst) == domain)

    since = rc.started.strftime("%Y-%m-%dT%H:%M:%S.%f")
    status, out, err = run_cli("changes", domain, "--since", since, "--data-dir",
                               str(rc.data_dir), "--format", "JSONEachRow")  # fmt: skip
    assert status == 0, err
    rows = [json.loads(line) for line in out.splitlines()]
    assert {Change(r["src_url"], r["dst_url"], r["reason"], r["detail"]) for r in rows} == {
        c for c in new | lost if wanted(c)
    }
    assert {r["change"] for r in rows} <= {"new", "lost"} and rows
    status, out, _ = run_cli("changes", domain, "--since", "2000-01-01", "--until", since,
                             "--data-dir", str(rc.data_dir), "--format", "JSONEachRow")  # fmt: skip
    assert status == 0 and {json.loads(x)["change"] for x in out.splitlines()} <= {"new"}


def changes_rows(rc: Recrawl, *args: str) -> list[dict[str, object]]:
    status, out, err = run_cli("changes", *args, "--data-dir", str(rc.data_dir), "--format",
                               "JSONEachRow")  # fmt: skip
    assert status == 0, err
    return [json.loads(line) for line in out.splitlines()]


def test_changes_newest_first_new_and_lost(indexed_web: IndexedWeb, rc: Recrawl) -> None:
    new, lost = changes(indexed_web, rc)
    domains = indexed_web.web.domains()

    def domain(url: str) -> str:
        return domains[url.split("/")[2].split(":")[0]]

    def to_example(cs: set[Change]) -> set[tuple[str, str]]:
        return {(c.src, c.dst) for c in cs if domain(c.dst) == "example.com" != domain(c.src)}

    recent = to_example(new) | to_example(lost)
    assert to_example(new) and to_example(lost)
    # the first crawl's links are older: the re-crawl's changes come first, within any limit
    rows = changes_rows(rc, "example.com", "--since", "2000-01-01", "--limit", str(len(recent)))
    assert {(r["src_url"], r["dst_url"]) for r in rows} == recent
    every = changes_rows(rc, "example.com", "--since", "2000-01-01", "--limit", "1000")
    assert len(every) > len(recent)
    assert [str(r["at"]) for r in every] == sorted((str(r["at"]) for r in every), reverse=True)
    since = rc.started.isoformat()
    gained = changes_rows(rc, "example.com", "--since", since, "--new")
    assert {(r["src_url"], r["dst_url"]) for r in gained} == to_example(new)
    assert {r["change"] for r in gained} == {"new"}
    gone = changes_rows(rc, "example.com", "--since", since, "--lost")
    assert {(r["src_url"], r["dst_url"]) for r in gone} == to_example(lost)
    assert {r["change"] for r in gone} == {"lost"}


def test_changes_since_later_than_until_is_one_line(rc: Recrawl) -> None:
    status, out, err = run_cli("changes", "example.com", "--since", "2026-03-01", "--until",
                               "2026-02-01", "--data-dir", str(rc.data_dir))  # fmt: skip
    assert (status, out) == (2, "") and err.strip().splitlines() == [
        "linkgraph: error: --since 2026-03-01 00:00:00 is later than --until 2026-02-01 00:00:00"
    ]


@pytest.mark.parametrize("target", ["example.com", "example.org"])
def test_refdomains_date_filters_after_the_recrawl(
    indexed_web: IndexedWeb, rc: Recrawl, target: str
) -> None:
    """The dates of a referring domain are those of its earliest and latest backlink: first
    seen after the re-crawl began means it linked for the first time then; last seen before,
    that the re-crawl found none of its backlinks."""
    new, lost = changes(indexed_web, rc)
    domains = indexed_web.web.domains()

    def domain(url: str) -> str:
        return domains[url.split("/")[2].split(":")[0]]

    before: dict[str, set[tuple[str, str]]] = defaultdict(set)
    followed: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for p in IndexTruth(indexed_web.web, indexed_web.port).of(target):
        before[p.src_domain].add((p.src, p.dst))
        if p.follow:
            followed[p.src_domain].add((p.src, p.dst))
    gained = {domain(c.src) for c in new if domain(c.dst) == target != domain(c.src)}
    # a page that turned noindex still holds its links: the index saw them again
    unseen = {(c.src, c.dst) for c in lost if c.reason != "page_noindex"}
    first_after = gained - set(before)
    last_before = {src for src, links in before.items() if links <= unseen}
    assert last_before and (first_after or target != "example.com")

    def refdomains(*flags: str) -> set[str]:
        status, out, err = run_cli("refdomains", target, *flags, "--data-dir", str(rc.data_dir),
                                   "--format", "JSONEachRow", "--limit", "1000")  # fmt: skip
        assert status == 0, err
        return {json.loads(line)["src_domain"] for line in out.splitlines()}

    since = rc.started.isoformat()
    assert refdomains("--first-seen-after", since) == first_after
    assert refdomains("--first-seen-before", since) == set(before)
    assert refdomains("--last-seen-before", since) == last_before
    assert refdomains("--last-seen-after", since) == (set(before) | gained) - last_before
    # the other filters choose the backlinks first: here, a domain's followed ones
    assert refdomains("--last-seen-before", since, "--follow") == {
        src for src, links in followed.items() if links <= unseen
    }


def test_broken_backlinks_after_the_recrawl(indexed_web: IndexedWeb, rc: Recrawl) -> None:
    rows = query(rc.data_dir, "SELECT dst_url, status, error FROM broken_backlinks")
    port = indexed_web.port
    broken = {url.replace(f":{port}", ""): (status, error) for url, status, error in rows}
    # dave.blogspot.com answers 410 now; www.example.co.jp refuses connections
    assert broken["http://dave.blogspot.com/"] == (410, "")
    assert broken["http://www.example.co.jp/"] == (0, "robots: connection refused")
    assert broken["http://gone.example.net/page"] == (404, "")


def test_history_report_follows_the_changes_second_by_second(
    indexed_web: IndexedWeb, rc: Recrawl
) -> None:
    """`history` against the declared changes, replayed here: each backlink of example.com is
    gained or lost in the second its source page was fetched (by v1, then by v1.r1), and a
    referring domain counts while it has at least one live backlink."""
    new, lost = changes(indexed_web, rc)
    domains = indexed_web.web.domains()

    def domain(url: str) -> str:
        return domains[url.split("/")[2].split(":")[0]]

    def to_example(pairs: set[tuple[str, str]]) -> set[tuple[str, str]]:
        return {(s, d) for s, d in pairs if domain(d) == "example.com" != domain(s)}

    at = lambda t: t.replace("{port}", str(indexed_web.port))  # noqa: E731
    first = to_example({
        (at(src), at(link.url or ""))
        for src, o in indexed_web.web.outcomes.items() if not o.noindex for link, _ in o.links
    })  # fmt: skip
    fetched = {
        (job, url): when.replace(microsecond=0)
        for job, url, when in query(rc.data_dir, "SELECT job, url, fetched_at FROM pages")
    }
    events = [(fetched["v1", s], s, 1) for s, _ in first]
    events += [(fetched["v1.r1", s], s, 1) for s, _ in to_example({(c.src, c.dst) for c in new})]
    events += [(fetched["v1.r1", s], s, -1) for s, _ in to_example({(c.src, c.dst) for c in lost})]
    expected, live, backlinks = [], Counter[str](), 0
    for second in sorted({t for t, _, _ in events}):
        now = [(domain(s), d) for t, s, d in events if t == second]
        before = {name for name, n in live.items() if n > 0}
        for name, delta in now:
            live[name] += delta
        after = {name for name, n in live.items() if n > 0}
        gained, gone = sum(d > 0 for _, d in now), sum(d < 0 for _, d in now)
        backlinks += gained - gone
        expected.append({
            "at": second, "new_backlinks": gained, "lost_backlinks": gone,
            "backlinks": backlinks, "new_referring_domains": len(after - before),
            "lost_referring_domains": len(before - after), "referring_domains": len(after),
        })  # fmt: skip
    client = connect(StorageTarget("", rc.data_dir))
    try:
        rows = run_report(client, "history", {"target": "example.com", "step": 1, "limit": 1000})
    finally:
        client.close()
    assert rows == expected[::-1]
    assert any(r["lost_referring_domains"] for r in rows) and any(r["lost_backlinks"] for r in rows)
