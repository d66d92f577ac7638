"""A page's robots directives: the noindex and nofollow its robots `<meta>` or X-Robots-Tag say.

They come with the fetched page, unlike robots.txt (crawler/robots.py), which is read before the
fetch. crawler/extraction.py reads the header's values before the parse and the `<meta>` contents
the walk collects (crawler/html_walk.py) after it; a flag either one sets holds for the page.
"""

from __future__ import annotations

import re

__all__ = ["robots_flags"]

# "name: value" directives that are not an agent prefix in an X-Robots-Tag value.
_VALUED_DIRECTIVES = frozenset(
    {"max-snippet", "max-image-preview", "max-video-preview", "unavailable_after"}
)
_AGENT_PREFIX = re.compile(r"\s*([a-z][a-z0-9_.-]*)\s*:(.*)", re.ASCII | re.DOTALL)
_DIRECTIVE_SEPARATORS = re.compile(r"[\s;]+")


def robots_flags(values: list[str], agent: str) -> tuple[bool, bool]:
    """(noindex, nofollow) from robots directive lists, e.g. "noindex, linkgraph: nofollow".

    An agent prefix scopes the directives after it, up to the end of that value.
    """
    noindex = nofollow = False
    for value in values:
        applies = True
        for part in value.lower().split(","):
            prefixed = _AGENT_PREFIX.match(part)
            if prefixed and prefixed.group(1) not in _VALUED_DIRECTIVES:
                applies = prefixed.group(1) == agent
                part = prefixed.group(2)
            if not applies:
                continue
            for token in _DIRECTIVE_SEPARATORS.split(part):
                if token == "none":
                    noindex = nofollow = True
                elif token == "noindex":
                    noindex = True
                elif token == "nofollow":
                    nofollow = True
    return noindex, nofollow
