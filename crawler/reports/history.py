"""The history report: a target's live backlinks and referring domains over time.

Built from the link history (`new_links`, `lost_links`, see docs/sql.md): each new backlink
counts +1 and each lost one -1 in the time step of the fetch that saw the change. A referring
domain is live while it has at least one live backlink, so its count moves only when a domain's
live backlinks go from 0 to more or back. The totals are the running sums of those changes, so
every row gives the state at the end of its step.
"""

from __future__ import annotations

from crawler.errors import UsageError
from crawler.reports.model import Param, Query, Report, Values
from crawler.reports.params import target
from crawler.reports.values import COUNT

STEP = "toIntervalSecond({step:UInt32})"
# Per referring domain and step: backlinks gained, lost, and the domain's live backlinks after
# the step (a running sum over its own steps).
PER_DOMAIN = f"""
SELECT src_domain, at, gained, lost,
    sum(gained - lost) OVER (PARTITION BY src_domain ORDER BY at ROWS UNBOUNDED PRECEDING) AS live
FROM (
    SELECT src_domain, at, countIf(delta = 1) AS gained, countIf(delta = -1) AS lost FROM (
        SELECT src_domain, toStartOfInterval(seen_at, {STEP}) AS at, 1 AS delta
        FROM new_links WHERE src_domain != dst_domain AND {{where}}
        UNION ALL
        SELECT src_domain, toStartOfInterval(lost_at, {STEP}) AS at, -1 AS delta
        FROM lost_links WHERE src_domain != dst_domain AND {{where}}
    ) GROUP BY src_domain, at
)
"""
HISTORY_SQL = f"""
SELECT at, new_backlinks, lost_backlinks,
    sum(new_backlinks - lost_backlinks) OVER (ORDER BY at ROWS UNBOUNDED PRECEDING) AS backlinks,
    new_referring_domains, lost_referring_domains,
    sum(new_referring_domains - lost_referring_domains)
        OVER (ORDER BY at ROWS UNBOUNDED PRECEDING) AS referring_domains
FROM (
    SELECT at, sum(gained) AS new_backlinks, sum(lost) AS lost_backlinks,
        countIf(live > 0 AND live - gained + lost <= 0) AS new_referring_domains,
        countIf(live <= 0 AND live - gained + lost > 0) AS lost_referring_domains
    FROM ({PER_DOMAIN}) GROUP BY at
)
"""


def check_history(values: Values) -> None:
    if values["step"] == 0:
        raise UsageError("--step must be at least 1 second")


HISTORY = Report(
    "history",
    "live backlinks and referring domains of a domain, host or page over time, newest step "
    "first: gained, lost and the totals at the end of each step",
    (
        target(),
        Param(
            "step",
            COUNT,
            "seconds in a time step (default 86400, a day)",
            default=86400,
            metavar="SECONDS",
        ),
    ),
    Query(
        HISTORY_SQL,
        (
            "at",
            "new_backlinks",
            "lost_backlinks",
            "backlinks",
            "new_referring_domains",
            "lost_referring_domains",
            "referring_domains",
        ),
        "at DESC",
    ),
    check=check_history,
)
