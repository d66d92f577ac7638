"""The dupefilter: 8-byte fingerprints of canonical URLs in a Redis set of the job.

It only answers "seen?"; marking happens inside the frontier's atomic add, so two workers that
discover one URL at the same moment queue it once. The scheduler builds it over its frontier.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from scrapy.dupefilters import BaseDupeFilter

if TYPE_CHECKING:
    from scrapy import Request

    from crawler.frontier import Frontier


class FingerprintDupeFilter(BaseDupeFilter):
    def __init__(self, frontier: Frontier) -> None:
        self.frontier = frontier

    def request_seen(self, request: Request) -> bool:
        return self.frontier.is_seen(request.url)
