"""WAT records (Common Crawl's metadata files): each page's links are already in the JSON.

So that a WAT page goes through the same extraction as a fetched one (URL resolution against the
page and its <base>, rel tokens, robots directives, canonical, limits), its links are written
back as the small HTML document that declares them, and that document is parsed like any page.
What a WAT leaves out stays out: a link's anchor is its "text" (an image link's alt is not
there), and <frame> sources come back as <iframe>s.
"""

from __future__ import annotations

import json
from html import escape
from typing import Any

# WAT "path" -> the element and attribute that carried the link
ELEMENTS = {
    "A@/href": ("a", "href"),
    "AREA@/href": ("area", "href"),
    "IFRAME@/src": ("iframe", "src"),
    "FRAME@/src": ("iframe", "src"),
    "FORM@/action": ("form", "action"),
}


def _attr(value: Any) -> str:
    return escape(str(value), quote=True)


def wat_page(payload: bytes) -> tuple[int, list[tuple[str, str]], bytes, int] | None:
    """(status, headers, HTML declaring its links, entity length) of a WAT record about a
    response; None for one about anything else (requests, metadata, warcinfo)."""
    envelope = json.loads(payload)["Envelope"]
    if envelope.get("WARC-Header-Metadata", {}).get("WARC-Type") != "response":
        return None
    http = envelope.get("Payload-Metadata", {}).get("HTTP-Response-Metadata")
    if not http:
        return None
    status = int(http.get("Response-Message", {}).get("Status", 0))
    headers = [(str(k), str(v)) for k, v in (http.get("Headers") or {}).items()]
    html = http.get("HTML-Metadata") or {}
    head = html.get("Head") or {}
    out = ["<!DOCTYPE html><html><head>"]
    if head.get("Base"):
        out.append(f'<base href="{_attr(head["Base"])}">')
    if head.get("Title"):
        out.append(f"<title>{escape(str(head['Title']))}</title>")
    for meta in head.get("Metas") or []:
        if "name" in meta and "content" in meta:
            out.append(f'<meta name="{_attr(meta["name"])}" content="{_attr(meta["content"])}">')
    for link in head.get("Link") or []:
        if link.get("path") == "LINK@/href" and "url" in link:
            rel = f' rel="{_attr(link["rel"])}"' if "rel" in link else ""
            lang = f' hreflang="{_attr(link["hreflang"])}"' if "hreflang" in link else ""
            out.append(f'<link{rel}{lang} href="{_attr(link["url"])}">')
    out.append("</head><body>")
    for link in html.get("Links") or []:
        element = ELEMENTS.get(link.get("path", ""))
        if element is None or "url" not in link:
            continue
        tag, attribute = element
        rel = f' rel="{_attr(link["rel"])}"' if "rel" in link else ""
        text = escape(str(link.get("text", "")))
        out.append(f'<{tag} {attribute}="{_attr(link["url"])}"{rel}>{text}</{tag}>')
    out.append("</body></html>")
    document = "\n".join(out).encode("utf-8")
    length = int(http.get("Entity-Length", 0) or 0)
    return status, headers, document, length
