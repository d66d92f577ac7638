"""linkgraph: a polite, distributed web-link crawler that builds a backlink index in ClickHouse."""

from __future__ import annotations

__version__ = "0.1.0"
PROJECT_URL = "https://github.com/linkgraph/linkgraph"
USER_AGENT = f"linkgraph/{__version__} (+{PROJECT_URL})"
# The product token robots.txt groups are matched against (RFC 9309 section 2.2.1).
ROBOTS_TOKEN = "linkgraph"
