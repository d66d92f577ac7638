"""A hostile test web: pages built to hurt a crawler, next to good pages with known links.

Served by the demo web server on 127.0.0.1 (every host name resolves there through a hosts file).
`expected_pages` and `expected_good_links` are the ground truth an exact crawl must record.

- links.test/ links to 500,000 URLs (12 MB): more than are recorded or followed; the URLs it
  links to are disallowed by its robots.txt, so following them costs no fetches.
- deep.test/ nests 100,000 `<div>`s (1.1 MB), with links before, inside and after them.
- long.test/href has a 10 MB href; long.test/anchor a 10 MB anchor text.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

from crawler.demo.web import Resource

HTML = [("Content-Type", "text/html; charset=utf-8")]
HOSTS = ["good.test", "links.test", "deep.test", "long.test"]
MANY_LINKS = 500_000
DEEP = 100_000
HUGE = 10_000_000
ANCHOR_WORDS = "an endless anchor "


def url(host: str, path: str, port: int) -> str:
    return f"http://{host}:{port}{path}"


def good_links(port: int) -> dict[str, list[str]]:
    """Each good page and the links on it, in order."""
    good = {p: url("good.test", p, port) for p in ("/", "/a", "/b", "/c")}
    return {
        good["/"]: [
            good["/a"], good["/b"], good["/c"], url("links.test", "/", port),
            url("deep.test", "/", port), url("long.test", "/href", port),
            url("long.test", "/anchor", port),
        ],
        good["/a"]: [good["/b"], good["/c"]],
        good["/b"]: [good["/a"]],
        good["/c"]: [],
    }  # fmt: skip


def _page(links: list[str]) -> bytes:
    return "".join(f'<p><a href="{link}">to {link}</a></p>' for link in links).encode()


@cache
def _many_links() -> bytes:
    return (
        "<title>many</title>" + "".join(f"<a href=/l/{i}>x</a>" for i in range(MANY_LINKS))
    ).encode()


@cache
def _deep(port: int) -> bytes:
    before, inside, after = (url("good.test", p, port) for p in ("/a", "/b", "/c"))
    return (
        f'<title>deep</title><a href="{before}">before</a>' + "<div>" * DEEP
        + f'<a href="{inside}">inside</a>' + "</div>" * DEEP + f'<a href="{after}">after</a>'
    ).encode()  # fmt: skip


@cache
def _long_href(port: int) -> bytes:
    return (
        '<a href="/' + "h" * HUGE + f'">huge</a><a href="{url("good.test", "/c", port)}">c</a>'
    ).encode()


@cache
def _long_anchor(port: int) -> bytes:
    text = ANCHOR_WORDS * (HUGE // len(ANCHOR_WORDS))
    return f'<a href="{url("good.test", "/b", port)}">{text}</a>'.encode()


class HostileWeb:
    def hosts(self) -> list[str]:
        return list(HOSTS)

    def seeds(self, port: int) -> list[str]:
        return [url("good.test", "/", port)]

    def resolve(self, host: str, path: str, port: int) -> Resource | None:
        if path == "/robots.txt":
            if host == "links.test":
                return Resource(
                    200, [("Content-Type", "text/plain")], b"User-agent: *\nDisallow: /l/\n"
                )
            return Resource(404, [], b"")
        if host == "good.test":
            links = good_links(port).get(url(host, path, port))
            return None if links is None else Resource(200, HTML, _page(links))
        bodies: dict[tuple[str, str], Callable[[], bytes]] = {
            ("links.test", "/"): _many_links,
            ("deep.test", "/"): lambda: _deep(port),
            ("long.test", "/href"): lambda: _long_href(port),
            ("long.test", "/anchor"): lambda: _long_anchor(port),
        }
        body = bodies.get((host, path))
        return None if body is None else Resource(200, HTML, body())
