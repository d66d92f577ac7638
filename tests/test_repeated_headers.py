"""A repeated Content-Type: the last one counts, as in the Fetch standard (extract a MIME type),
for the recorded content type and for whether the page is parsed for links."""

from __future__ import annotations

from pathlib import Path

from crawler.demo.server import LocalWebServer, write_hosts_file
from crawler.demo.web import Resource
from tests.conftest import query, run_linkgraph

PAGE = b'<html><title>t</title><a href="/next">next</a></html>'


class TwoTypesWeb:
    """/html says image/png, then text/html; /png says text/html, then image/png."""

    def hosts(self) -> list[str]:
        return ["types.test"]

    def resolve(self, host: str, path: str, port: int) -> Resource | None:
        if path == "/":
            links = '<a href="/html">h</a> <a href="/png">p</a>'
            return Resource(200, [("Content-Type", "text/html")], links.encode())
        if path == "/html":
            types = [("Content-Type", "image/png"), ("Content-Type", "text/html; charset=utf-8")]
            return Resource(200, types, PAGE)
        if path == "/png":
            types = [("Content-Type", "text/html"), ("Content-Type", "image/png")]
            return Resource(200, types, PAGE)
        if path == "/next":
            return Resource(200, [("Content-Type", "text/plain")], b"end")
        return None


def test_the_last_content_type_counts(tmp_path: Path) -> None:
    data, hosts_file = tmp_path / "data", tmp_path / "hosts"
    web = TwoTypesWeb()
    with LocalWebServer(web) as server:
        write_hosts_file(hosts_file, web.hosts())
        run_linkgraph(
            "crawl", f"http://types.test:{server.port}/", "--data-dir", str(data),
            "--hosts-file", str(hosts_file), "--allow-private", "--delay", "0", "-q",
        )  # fmt: skip
    port = server.port
    pages = query(data, "SELECT url, content_type, links FROM pages")
    assert {(u.replace(f":{port}", ""), t, n) for u, t, n in pages} == {
        ("http://types.test/", "text/html", 2),
        ("http://types.test/html", "text/html", 1),  # parsed: its one link is recorded
        ("http://types.test/png", "image/png", 0),  # an image: not parsed
        ("http://types.test/next", "text/plain", 0),
    }
    assert len(pages) == 4
