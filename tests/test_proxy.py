"""The proxy is LINKGRAPH_PROXY's, never the environment's: with `http_proxy` set, a crawl still
connects to its hosts itself, unless LINKGRAPH_PROXY names a proxy, which then carries every
request (robots.txt included)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from crawler.demo.server import LocalWebServer, write_hosts_file
from crawler.demo.web import Resource
from tests.conftest import LINKGRAPH, ROOT, query
from tests.rawserver import RawRequest, RawServer, response

HTML = [("Content-Type", "text/html")]


class SiteWeb:
    def hosts(self) -> list[str]:
        return ["site.test"]

    def resolve(self, host: str, path: str, port: int) -> Resource | None:
        if path == "/":
            return Resource(200, HTML, b'<a href="/next">next</a>')
        if path == "/next":
            return Resource(200, HTML, b"<title>next</title>")
        return None


def proxy_answer(request: RawRequest) -> bytes:
    """A forward proxy that answers for site.test itself (absolute-form targets)."""
    path = "/" + request.target.split("://", 1)[-1].partition("/")[2]
    if path == "/":
        return response("200 OK", HTML, b'<a href="/next">next</a>')
    if path == "/next":
        return response("200 OK", HTML, b"<title>via proxy</title>")
    return response("404 Not Found", [], b"")


def crawl(tmp: Path, port: int, proxy_port: int, *extra: str) -> None:
    hosts_file = tmp / "hosts"
    write_hosts_file(hosts_file, ["site.test"])
    proxy = f"http://127.0.0.1:{proxy_port}"
    env = {k: v for k, v in os.environ.items() if k.lower() not in ("no_proxy", "all_proxy")}
    env.update(http_proxy=proxy, https_proxy=proxy, HTTP_PROXY=proxy, HTTPS_PROXY=proxy)
    args = [
        "crawl", f"http://site.test:{port}/", "--data-dir", str(tmp / "data"), "--hosts-file",
        str(hosts_file), "--allow-private", "--delay", "0", "--workers", "1", "-q", *extra,
    ]  # fmt: skip
    proc = subprocess.run(
        [*LINKGRAPH, *args], capture_output=True, text=True, timeout=300, env=env, cwd=ROOT
    )
    assert proc.returncode == 0, proc.stderr


def test_environment_proxy_is_ignored(tmp_path: Path) -> None:
    with RawServer(proxy_answer) as proxy, LocalWebServer(SiteWeb()) as site:
        crawl(tmp_path, site.port, proxy.port)
        seen = sorted(e.path for e in site.requests())
    assert proxy.connections == 0
    assert seen == ["/", "/next", "/robots.txt"]
    titles = query(tmp_path / "data", "SELECT url, title FROM pages ORDER BY url")
    assert titles == [(f"http://site.test:{site.port}/", ""),
                      (f"http://site.test:{site.port}/next", "next")]  # fmt: skip


def test_linkgraph_proxy_carries_every_request(tmp_path: Path) -> None:
    with RawServer(proxy_answer) as proxy, LocalWebServer(SiteWeb()) as site:
        crawl(
            tmp_path, site.port, proxy.port, "-s", f"LINKGRAPH_PROXY=http://127.0.0.1:{proxy.port}"
        )
        seen = site.requests()
        targets = sorted(proxy.targets())
    assert seen == []
    base = f"http://site.test:{site.port}"
    assert targets == [f"{base}/", f"{base}/next", f"{base}/robots.txt"]
    assert proxy.connections == 3
    titles = query(tmp_path / "data", "SELECT url, title FROM pages ORDER BY url")
    assert titles == [(f"{base}/", ""), (f"{base}/next", "via proxy")]


def test_a_proxy_without_scheme_is_a_usage_error(tmp_path: Path) -> None:
    proc = subprocess.run(
        [*LINKGRAPH, "crawl", "http://site.test/", "--data-dir", str(tmp_path / "d"),
         "-s", "LINKGRAPH_PROXY=127.0.0.1:3128"],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
    )  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr == (
        "linkgraph: error: -s LINKGRAPH_PROXY=127.0.0.1:3128: give a proxy as "
        "http://[user:password@]host:port\n"
    )
    assert not (tmp_path / "d").exists() or not any((tmp_path / "d").iterdir())
