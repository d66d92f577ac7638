"""The reason recorded for each way a fetch ends without a response, and where the request
outcome exceptions live (one module, imported by the middlewares and the spider alike)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadConnectionRefusedError,
    DownloadTimeoutError,
    IgnoreRequest,
)
from scrapy.utils._download_handlers import wrap_twisted_exceptions
from twisted.internet.error import DNSLookupError, TCPTimedOutError
from twisted.python.failure import Failure

from crawler.failures import (
    HostDropped,
    RefusedAddress,
    Requeued,
    RobotsDisallowed,
    describe_failure,
)

ROOT = Path(__file__).resolve().parent.parent
OUTCOMES = {"RobotsDisallowed", "HostDropped", "Requeued", "RefusedAddress", "describe_failure"}


@pytest.mark.parametrize(
    ("exc", "reason"),
    [
        (RobotsDisallowed("robots.txt disallows http://a.test/x"), "robots"),
        (RobotsDisallowed("no robots.txt", "robots: HTTP 503"), "robots: HTTP 503"),
        (HostDropped("host dropped after 10 failures in a row (last: dns)"),
         "host dropped after 10 failures in a row (last: dns)"),
        (RefusedAddress("intranet.test", "10.0.0.1"), "refused: non-public address"),
        (CannotResolveHostError("no results for hostname lookup: nx.test"), "dns"),
        (DNSLookupError("nx.test"), "dns"),
        (DownloadTimeoutError("took longer than 30 seconds"), "timeout"),
        (TCPTimedOutError(), "timeout"),
        (DownloadConnectionRefusedError("refused"), "connection refused"),
        (Requeued("HTTP 503: fetched again in 5s"), "ignored: HTTP 503: fetched again in 5s"),
        (IgnoreRequest("x" * 300), "ignored: " + "x" * 191),
        (ValueError("invalid hostname: a..b"), "ValueError: invalid hostname: a..b"),
        (ValueError(), "ValueError"),
    ],
)  # fmt: skip
def test_describe_failure(exc: Exception, reason: str) -> None:
    assert describe_failure(Failure(exc)) == reason


def test_a_refusal_inside_a_download_would_read_as_dns() -> None:
    """Why the guard asks the resolver before the download: Scrapy turns the DNSLookupError
    that Twisted raises for a connection whose lookup failed into CannotResolveHostError."""
    with pytest.raises(CannotResolveHostError) as raised, wrap_twisted_exceptions():
        raise DNSLookupError("no results for hostname lookup: intranet.test")
    assert describe_failure(Failure(raised.value)) == "dns"


def _modules() -> dict[str, ast.Module]:
    files = [*(ROOT / "crawler").rglob("*.py"), *(ROOT / "pipelines").rglob("*.py")]
    return {str(p.relative_to(ROOT)): ast.parse(p.read_text(encoding="utf-8")) for p in files}


def _imported(tree: ast.Module) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_request_outcomes_are_defined_once_in_failures() -> None:
    defined = {
        (path, node.name)
        for path, tree in _modules().items()
        for node in ast.walk(tree)
        if isinstance(node, (ast.ClassDef, ast.FunctionDef)) and node.name in OUTCOMES
    }
    assert defined == {("crawler/failures.py", name) for name in OUTCOMES}


def test_spider_and_middlewares_do_not_import_each_other() -> None:
    modules = _modules()
    spider = _imported(modules["crawler/spiders/links.py"])
    assert not {m for m in spider if m.startswith("crawler.middlewares")}
    for path in ("robots.py", "politeness.py", "addresses.py"):
        imported = _imported(modules[f"crawler/middlewares/{path}"])
        assert not {m for m in imported if m.startswith("crawler.spiders")}, path
