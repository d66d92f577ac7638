"""Crawl behaviours on the test web: resuming a job, limits, the private-address guard, WARC
output, and the demo. Each crawl is a real `linkgraph crawl` process."""

from __future__ import annotations

from pathlib import Path

from warcio.archiveiterator import ArchiveIterator

from crawler.demo.server import LocalWebServer
from tests.conftest import SHORT_BACKOFF, page_fetches, query, run_linkgraph
from tests.testweb import TestWeb


def crawl_args(data: Path, hosts_file: Path, *extra: str) -> list[str]:
    return ["crawl", "--data-dir", str(data), "--hosts-file", str(hosts_file), "--delay", "0",
            "-q", *SHORT_BACKOFF, *extra]  # fmt: skip


def test_a_stopped_job_resumes_without_fetching_anything_twice(
    web: TestWeb, served: tuple[LocalWebServer, Path], tmp_path: Path
) -> None:
    server, hosts_file = served
    data = tmp_path / "data"
    args = crawl_args(data, hosts_file, "--job", "resume", "--allow-private")
    run_linkgraph(*args, *web.seeds(server.port), "--max-pages", "20")
    assert query(data, "SELECT count() FROM pages") == [(20,)]
    # no seeds: the job is known, so it resumes, with its saved limit unless a flag lifts it
    run_linkgraph(*args, "--max-pages", "0")
    rows = query(data, "SELECT url, status FROM pages")
    assert dict(rows) == web.expected_pages(server.port) and len(rows) == len(dict(rows))
    requests = page_fetches(server, web)
    assert set(requests) == web.expected_requests()
    # once each across the two runs; the 5xx page 1 + 3 times (retried)
    assert requests == web.expected_fetches(), "a page was fetched twice across the two runs"


def test_depth_limit(web: TestWeb, served: tuple[LocalWebServer, Path], tmp_path: Path) -> None:
    server, hosts_file = served
    data = tmp_path / "data"
    seeds = web.seeds(server.port)
    # no sitemaps: what they list is queued at depth 0, whatever the depth of their host's page
    run_linkgraph(*crawl_args(data, hosts_file, "--allow-private", "--max-depth", "1",
                              "--no-sitemaps"), *seeds)  # fmt: skip
    nofollow = web.expected_nofollow_pages(server.port)
    depth1 = {dst for src, dst, *_ in web.expected_links(server.port)
              if src in seeds and src not in nofollow}  # fmt: skip
    rows = query(data, "SELECT url, depth FROM pages")
    assert {url for url, _ in rows} == set(seeds) | depth1
    assert {url for url, depth in rows if depth == 0} == set(seeds)


def test_private_addresses_are_refused_by_default(
    web: TestWeb, served: tuple[LocalWebServer, Path], tmp_path: Path
) -> None:
    server, hosts_file = served
    data = tmp_path / "data"
    seeds = [*web.seeds(server.port), f"http://127.0.0.1:{server.port}/", "http://[::1]:9/"]
    run_linkgraph(*crawl_args(data, hosts_file), *seeds)
    assert server.requests() == []
    rows = query(data, "SELECT url, status, error FROM pages ORDER BY url")
    assert sorted(rows) == sorted((url, 0, "refused: non-public address") for url in seeds)


def test_warc_archive_holds_every_response(
    web: TestWeb, served: tuple[LocalWebServer, Path], tmp_path: Path
) -> None:
    server, hosts_file = served
    data, warc_dir = tmp_path / "data", tmp_path / "warc"
    run_linkgraph(*crawl_args(data, hosts_file, "--allow-private", "--warc", str(warc_dir)),
                  *web.seeds(server.port))  # fmt: skip
    fetched = query(data, "SELECT url, status, bytes, warc_file, warc_offset FROM pages "
                    "WHERE status > 0")  # fmt: skip
    for url, status, size, path, offset in fetched:  # each page points at its record
        with open(path, "rb") as stream:
            stream.seek(offset)
            record = next(iter(ArchiveIterator(stream)))
            assert record.rec_headers.get_header("WARC-Target-URI") == url
            assert int(record.http_headers.get_statuscode()) == status
            if record.rec_type == "response":  # else a revisit: the payload is elsewhere
                assert len(record.content_stream().read()) == size
    requests = [r.rec_headers.get_header("WARC-Target-URI") for path in warc_dir.glob("*.warc.gz")
                for r in ArchiveIterator(path.open("rb")) if r.rec_type == "request"]  # fmt: skip
    assert len(requests) == len(server.requests())  # every fetch, robots.txt too
    assert len(fetched) == len(web.expected_requests())


def test_demo_prints_the_index(tmp_path: Path) -> None:
    data = tmp_path / "demo"
    proc = run_linkgraph("demo", "--data-dir", str(data), "--hosts", "8", "--pages", "60")
    assert "Top domains by referring domains:" in proc.stdout
    assert "A sample of backlinks:" in proc.stdout
    pages = query(data, "SELECT count() FROM pages")[0][0]
    assert "job demo: finished" in proc.stderr and f"recorded {pages} pages" in proc.stderr
    top = query(data, "SELECT dst_domain FROM domain_inbound ORDER BY referring_domains DESC, "
                "backlinks DESC, dst_domain LIMIT 1")[0][0]  # fmt: skip
    assert f"│ {top} " in proc.stdout.split("A sample of backlinks:")[0]
