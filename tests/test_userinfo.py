"""URLs with userinfo (`http://user:pass@host/`): fetched without the credentials and recorded
under the URL without them (crawler/urls.py), which is also what their links point to. The
credentials are sent nowhere and stored nowhere."""

from __future__ import annotations

from pathlib import Path

from crawler.demo.server import write_hosts_file
from crawler.urls import canonicalize, host_of, resolve
from tests.conftest import query, run_linkgraph
from tests.rawserver import RawRequest, RawServer, response

SECRET = "s3cret"
HTML = [("Content-Type", "text/html")]


def test_canonical_urls_drop_userinfo() -> None:
    assert canonicalize(f"http://user:{SECRET}@Host.test:8080/a@b?c@d") == (
        "http://host.test:8080/a@b?c@d"
    )
    assert canonicalize("https://user@host.test/") == "https://host.test/"
    assert canonicalize("http://:@host.test/") == "http://host.test/"
    assert resolve("http://a.test/", f"//u:{SECRET}@b.test/x") == "http://b.test/x"
    assert resolve(f"http://u:{SECRET}@a.test/dir/", "page") == "http://a.test/dir/page"
    assert host_of(canonicalize("http://u:p@b.test/") or "") == "b.test"


def userinfo_site() -> RawServer:
    """site.test/ links to other.test/private through a URL with credentials."""

    def answer(request: RawRequest) -> bytes:
        if request.target == "/":
            body = f'<a href="http://user:{SECRET}@other.test:{server.port}/private">p</a>'
            return response("200 OK", HTML, body.encode())
        if request.target == "/private":
            return response("200 OK", HTML, b"<title>private</title>")
        return response("404 Not Found", [], b"")

    server = RawServer(answer)
    return server


def test_userinfo_urls_are_fetched_without_credentials_and_recorded(tmp_path: Path) -> None:
    data, hosts_file = tmp_path / "data", tmp_path / "hosts"
    write_hosts_file(hosts_file, ["site.test", "other.test"])
    with userinfo_site() as server:
        proc = run_linkgraph(
            "crawl", f"http://admin:{SECRET}@site.test:{server.port}/", "--data-dir", str(data),
            "--hosts-file", str(hosts_file), "--allow-private", "--delay", "0", "--workers", "1",
        )  # fmt: skip
        requests = list(server.requests)
    fetched = sorted((r.header("Host")[0], r.target) for r in requests)
    port = server.port
    assert fetched == sorted([
        (f"site.test:{port}", "/robots.txt"), (f"site.test:{port}", "/"),
        (f"other.test:{port}", "/robots.txt"), (f"other.test:{port}", "/private"),
    ])  # fmt: skip
    assert not any(r.header("Authorization") for r in requests)
    pages = query(data, "SELECT url, status, error FROM pages ORDER BY url")
    assert pages == [
        (f"http://other.test:{port}/private", 200, ""),
        (f"http://site.test:{port}/", 200, ""),
    ]
    links = query(data, "SELECT src_url, dst_url FROM links")
    assert links == [(f"http://site.test:{port}/", f"http://other.test:{port}/private")]
    assert SECRET not in proc.stdout + proc.stderr
    stored = query(data, "SELECT count() FROM pages WHERE position(url, '@') > 0")
    assert stored == [(0,)]
