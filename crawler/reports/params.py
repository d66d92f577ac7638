"""Parameters several reports share: the target, a registered domain, the backlink filters,
and the rules that tie parameters together."""

from __future__ import annotations

from crawler.errors import UsageError
from crawler.reports.model import Param, Values
from crawler.reports.values import DATE, DOMAIN, FLAG, LINK_TYPE, TARGET, TEXT, URL

TARGET_HELP = "a registered domain, a host name, or a page's URL"
FILTERS = "backlink filters"
SINCE = "{since:DateTime64(3, 'UTC')}"


def target(scopes: tuple[str, ...] = ("domain", "host", "url")) -> Param:
    text = {3: TARGET_HELP, 2: "a registered domain, or a host name"}[len(scopes)]
    return Param("target", TARGET, text, positional=True, required=True, scopes=scopes)


def domain(text: str = "a registered domain") -> Param:
    return Param("domain", DOMAIN, text, positional=True, required=True)


def backlink_filters(*, grouped: bool) -> tuple[Param, ...]:
    """Filters over `backlinks` rows. Grouped, the dates filter the referring domain's first and
    last seen (its earliest and latest backlink), not each backlink's."""

    def when(name: str, text: str, condition: str) -> Param:
        typed = condition.format(f"{{{name}:DateTime64(3, 'UTC')}}")
        return Param(name, DATE, text, condition=typed, grouped=grouped, group=FILTERS)

    return (
        Param("follow", FLAG, "only followed backlinks", condition="follow = 1",
              exclusive="follow", group=FILTERS),
        Param("nofollow", FLAG, "only backlinks that pass no authority (nofollow, ugc, "
              "sponsored or on a nofollow page)", condition="follow = 0", exclusive="follow",
              group=FILTERS),
        Param("ugc", FLAG, "only backlinks marked rel=ugc", condition="ugc = 1", group=FILTERS),
        Param("sponsored", FLAG, "only backlinks marked rel=sponsored", condition="sponsored = 1",
              group=FILTERS),
        Param("anchor", TEXT, "only backlinks seen with this anchor text",
              condition="has(anchors, {anchor:String})", group=FILTERS),
        Param("page", URL, "only backlinks to this target page",
              condition="dst_url = {page:String}", group=FILTERS),
        Param("type", LINK_TYPE, "only backlinks with a link of this type (text, image, area, "
              "redirect, canonical, hreflang, frame, form)", condition="has(types, {type:String})",
              group=FILTERS),
        when("first_seen_after", "first seen at or after DATE", "first_seen >= {}"),
        when("first_seen_before", "first seen before DATE", "first_seen < {}"),
        when("last_seen_after", "last seen at or after DATE", "last_seen >= {}"),
        when("last_seen_before", "last seen before DATE", "last_seen < {}"),
    )  # fmt: skip


def check_intersect(values: Values) -> None:
    target, competitors = values["domain"], values["competitors"]
    if target in competitors:
        raise UsageError(f"{target} is the target: it cannot be a competitor too")
    if not 1 <= values["min"] <= len(competitors):
        raise UsageError(f"--min must be between 1 and the {len(competitors)} competitors given")


def check_changes(values: Values) -> None:
    since, until = values["since"], values["until"]
    if until is not None and since > until:
        raise UsageError(f"--since {since:%Y-%m-%d %H:%M:%S} is later than --until "
                         f"{until:%Y-%m-%d %H:%M:%S}")  # fmt: skip
