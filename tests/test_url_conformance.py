"""WHATWG URL conformance (web-platform-tests urltestdata) through `resolve` and `extract`.

Every case with a base is checked twice: `resolve(base, input)` directly, and as the one
`<a href>` of a page served at `base`, which also exercises HTML attribute decoding. Cases
without a base check `canonicalize`. Only http(s) results count as links; the fragment and the
userinfo (`user:pass@`, see crawler/urls.py) are dropped.
"""

from __future__ import annotations

import json
import re

import pytest

from crawler.extraction import extract
from crawler.urls import canonicalize, host_of, origin_of, resolve
from tests.conftest import SHARED, skip_without_oracle

ORACLE = SHARED / "oracles" / "url" / "urltestdata.jsonl"

skip_without_oracle(ORACLE)

CASES = [json.loads(line) for line in ORACLE.read_text(encoding="utf-8").splitlines() if line]
WITH_BASE = [case for case in CASES if case["base"] is not None]
WITHOUT_BASE = [case for case in CASES if case["base"] is None]
# The HTML tokenizer turns NUL into U+FFFD inside attribute values (even written as &#0;),
# so these inputs cannot reach the URL parser from a page unchanged.
IN_HTML = [case for case in WITH_BASE if "\x00" not in case["input"]]


def _case_id(case: dict) -> str:
    return str(case["id"])


def _expected(case: dict) -> str | None:
    """The link a crawler should record for this case, None for no link."""
    if case.get("failure"):
        return None
    href: str = case["href"]
    if not href.startswith(("http:", "https:")):
        return None
    # A serialised userinfo percent-encodes "/" and "@": the first "@" before a "/" ends it.
    return re.sub(r"^(https?://)[^/]*@", r"\1", href.split("#", 1)[0])


def _attribute(value: str) -> str:
    # Tabs and newlines stay raw: they are part of the test and the URL parser drops them.
    return value.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")


def test_oracle_covers_links_and_failures() -> None:
    # Guards against a truncated oracle silently turning this module into a no-op.
    assert sum(_expected(case) is not None for case in WITH_BASE) >= 100
    assert sum(bool(case.get("failure")) for case in WITH_BASE) >= 50
    assert len(WITHOUT_BASE) >= 400


@pytest.mark.parametrize("case", WITH_BASE, ids=_case_id)
def test_resolve(case: dict) -> None:
    assert resolve(case["base"], case["input"]) == _expected(case)


@pytest.mark.parametrize("case", IN_HTML, ids=_case_id)
def test_extract_link(case: dict) -> None:
    body = (
        "<!DOCTYPE html><html><head><title>t</title></head><body><p>"
        f'<a href="{_attribute(case["input"])}">x</a></p></body></html>'
    ).encode()
    page = extract(body, case["base"], encoding="utf-8")
    expected = _expected(case)
    assert [link.url for link in page.links] == ([expected] if expected else [])
    if expected:
        assert page.links[0].anchor == "x"


@pytest.mark.parametrize("case", WITHOUT_BASE, ids=_case_id)
def test_canonicalize(case: dict) -> None:
    assert canonicalize(case["input"]) == _expected(case)


def test_host_of_slices_what_a_full_parse_finds() -> None:
    """host_of slices canonical URLs; origin_of parses them: their hosts must agree."""
    urls = [canonicalize(c["input"]) for c in CASES]
    urls += [resolve(c["base"], c["input"]) for c in WITH_BASE]
    canonical = [u for u in urls if u]
    assert len(canonical) > 250
    parsed = [origin_of(u).split("://", 1)[1].rpartition(":")[0] for u in canonical]
    assert [host_of(u) for u in canonical] == parsed
