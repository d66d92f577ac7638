"""The bench web: deterministic pages of the promised size and link mix, served by its command."""

from __future__ import annotations

import http.client
import re
from pathlib import Path
from urllib.parse import urlsplit

from benchmarks.benchweb import bench_web, serve_bench_web


def test_bench_web() -> None:
    web = bench_web(hosts=1000, pages_per_host=50)
    assert len(web.hosts()) == len(set(web.hosts())) == 1000
    host = web.hosts()[123]
    page = web.resolve(host, "/p/7", 8080)
    assert page is not None and page == bench_web(pages_per_host=50).resolve(host, "/p/7", 8080)
    assert web.resolve(host, "/p/50", 8080) is None and web.resolve("x.test", "/", 8080) is None
    robots = web.resolve(host, "/robots.txt", 8080)
    assert robots is not None and b"Allow: /" in robots.body
    kinds = {"host": 0, "domain": 0, "other": 0}
    for n in range(50):
        found = web.resolve(host, "/" if n == 0 else f"/p/{n}", 8080)
        assert found is not None
        body = found.body
        assert 20_000 <= len(body) <= 60_000
        hrefs = re.findall(rb'href="([^"]+)"', body)
        assert 50 <= len(hrefs) <= 150
        for href in hrefs:
            target = urlsplit(href.decode()).hostname
            if target is None:
                kinds["host"] += 1
            elif target.split(".", 1)[1] == host.split(".", 1)[1]:
                kinds["domain"] += 1
            else:
                kinds["other"] += 1
    assert all(count > 100 for count in kinds.values()), kinds


def test_bench_web_is_served_from_its_own_process(tmp_path: Path) -> None:
    with serve_bench_web(tmp_path, hosts=4, pages_per_host=3) as served:
        assert served.seeds == [f"http://{host}:{served.port}/" for host in bench_web(4, 3).hosts()]
        assert served.hosts_file.read_text().splitlines()[1].split() == [
            "127.0.0.1", "blog.site0000.com", "blog.site0001.org", "www.site0000.com",
            "www.site0001.org",
        ]  # fmt: skip
        seed = urlsplit(served.seeds[0])
        conn = http.client.HTTPConnection("127.0.0.1", served.port, timeout=5)
        conn.request("GET", "/p/2", headers={"Host": seed.netloc})
        body = conn.getresponse().read()
        conn.close()
        assert body == bench_web(4, 3).render(0, 2, served.port)
