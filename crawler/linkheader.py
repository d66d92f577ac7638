"""The `Link` HTTP header (RFC 8288): the canonical and hreflang links a response declares.

`Link: <https://example.com/a>; rel="canonical", <https://example.com/de/a>; rel="alternate";
hreflang="de"` declares what `<link>` elements would in the document; search engines read both.
Only the two relations linkgraph records are returned; the others (preload, next, ...) are not
links to pages.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["HeaderLink", "header_links"]

# One link-value: a URI reference in angle brackets, then its parameters up to the next
# link-value. Quoted parameter values may hold ',' and ';'.
_LINK_VALUE = re.compile(r'<([^>]*)>((?:[^,"<]|"(?:[^"\\]|\\.)*")*)')
_PARAM = re.compile(r';\s*([!#$%&\'*+\-.^_`|~0-9A-Za-z]+)\s*(?:=\s*("(?:[^"\\]|\\.)*"|[^;,\s]*))?')
_SPACE = re.compile(r"[\t\n\f\r ]+")


@dataclass(frozen=True, slots=True)
class HeaderLink:
    href: str  # the URI reference as sent, resolved later against the response's URL
    type: str  # "canonical" | "hreflang"
    rel: frozenset[str]


def header_links(values: list[str]) -> list[HeaderLink]:
    """The canonical and hreflang links of the `Link` header values of one response."""
    found = []
    for value in values:
        for match in _LINK_VALUE.finditer(value):
            params: dict[str, str] = {}
            for name, raw in _PARAM.findall(match.group(2)):
                name = name.lower()
                if name not in params:  # RFC 8288: only the first occurrence of rel counts
                    params[name] = raw[1:-1] if raw.startswith('"') else raw
            rel = frozenset(t for t in _SPACE.split(params.get("rel", "").lower()) if t)
            if "canonical" in rel:
                found.append(HeaderLink(match.group(1).strip(), "canonical", rel))
            elif "alternate" in rel and "hreflang" in params:
                found.append(HeaderLink(match.group(1).strip(), "hreflang", rel))
    return found
