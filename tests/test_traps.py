"""Crawler traps with the default settings: an endless calendar and an endless redirect chain
end by themselves at the default depth limit (LINKGRAPH_MAX_DEPTH, Heritrix's maxHops of 20),
and the page where each stopped says why. Served on 127.0.0.1; each crawl is a real process."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from crawler import settings as defaults
from crawler.demo.server import LocalWebServer, write_hosts_file
from crawler.demo.web import Resource
from tests.conftest import query, run_linkgraph

HTML = [("Content-Type", "text/html; charset=utf-8")]
CALENDAR, REDIRECTS = "cal.test", "loop.test"
DEPTH = defaults.LINKGRAPH_MAX_DEPTH
STOPPED = f"at the depth limit {DEPTH}: links not followed"


def month_after(year: int, month: int) -> tuple[int, int]:
    return (year + 1, 1) if month == 12 else (year, month + 1)


class TrapWeb:
    """cal.test/cal/Y/M links to the next month, for ever; loop.test/r/N redirects to /r/N+1."""

    def hosts(self) -> list[str]:
        return [CALENDAR, REDIRECTS]

    def seeds(self, port: int) -> list[str]:
        return [f"http://{CALENDAR}:{port}/cal/2026/1", f"http://{REDIRECTS}:{port}/r/0"]

    def resolve(self, host: str, path: str, port: int) -> Resource | None:
        parts = path.split("/")
        if path == "/robots.txt":
            return Resource(404, [], b"")
        if host == CALENDAR and len(parts) == 4 and parts[1] == "cal":
            year, month = month_after(int(parts[2]), int(parts[3]))
            body = f'<title>{parts[2]}-{parts[3]}</title><a href="/cal/{year}/{month}">next</a>'
            return Resource(200, HTML, body.encode())
        if host == REDIRECTS and len(parts) == 3 and parts[1] == "r":
            return Resource(302, [("Location", f"/r/{int(parts[2]) + 1}")], b"")
        return None


def calendar_urls(port: int, count: int) -> list[str]:
    year, month, urls = 2026, 1, []
    for _ in range(count):
        urls.append(f"http://{CALENDAR}:{port}/cal/{year}/{month}")
        year, month = month_after(year, month)
    return urls


def crawl_traps(tmp_path: Path, *flags: str) -> tuple[LocalWebServer, Path, str]:
    web, data, hosts_file = TrapWeb(), tmp_path / "data", tmp_path / "hosts"
    tmp_path.mkdir(exist_ok=True)
    with LocalWebServer(web) as server:
        write_hosts_file(hosts_file, web.hosts())
        proc = run_linkgraph(
            "crawl", *web.seeds(server.port), "--data-dir", str(data), "--hosts-file",
            str(hosts_file), "--allow-private", "--delay", "0", "--workers", "1", *flags,
        )  # fmt: skip
    return server, data, proc.stderr


def test_traps_end_at_the_default_depth_limit(tmp_path: Path) -> None:
    assert DEPTH == 20
    server, data, stderr = crawl_traps(tmp_path)
    port = server.port
    redirects = [f"http://{REDIRECTS}:{port}/r/{n}" for n in range(DEPTH + 1)]
    calendar = calendar_urls(port, DEPTH + 1)
    assert "job default: finished" in stderr
    assert f"{2 * (DEPTH + 1)} pages recorded" in stderr and "0 still queued" in stderr
    rows = query(data, "SELECT url, status, depth, error FROM pages")
    assert sorted(rows) == sorted(
        [(url, 200, depth, STOPPED if depth == DEPTH else "") for depth, url in enumerate(calendar)]
        + [(url, 302, n, STOPPED if n == DEPTH else "") for n, url in enumerate(redirects)]
    )
    # the links of the last pages are recorded, only not followed
    last = query(data, "SELECT src_url, dst_url FROM links WHERE src_url IN "
                 f"('{calendar[-1]}', '{redirects[-1]}') ORDER BY src_url")  # fmt: skip
    next_month = calendar_urls(port, DEPTH + 2)[-1]
    next_hop = f"http://{REDIRECTS}:{port}/r/{DEPTH + 1}"
    assert last == sorted([(calendar[-1], next_month), (redirects[-1], next_hop)])
    fetched = Counter((e.host, e.path) for e in server.requests() if e.path != "/robots.txt")
    assert fetched == Counter(
        [(CALENDAR, url.split(str(port), 1)[1]) for url in calendar]
        + [(REDIRECTS, f"/r/{n}") for n in range(DEPTH + 1)]
    )


def test_the_operator_sets_or_lifts_the_depth_limit(tmp_path: Path) -> None:
    _, data, _ = crawl_traps(tmp_path / "deeper", "--max-depth", "25")
    assert query(data, "SELECT max(depth), count() FROM pages") == [(25, 2 * 26)]
    # 0 lifts it: only the page limit ends the traps now
    _, data, _ = crawl_traps(tmp_path / "lifted", "--max-depth", "0", "--max-pages", "60")
    rows = query(data, "SELECT count(), countIf(error != '') FROM pages")
    assert rows == [(60, 0)]
    assert max(depth for (depth,) in query(data, "SELECT depth FROM pages")) > DEPTH
