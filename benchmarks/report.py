"""Figures of one crawler's run, and the table that sets the two crawlers side by side."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from benchmarks.measure import Cost


@dataclass(slots=True)
class CrawlFigures:
    name: str
    pages: int
    links: int
    hosts: int
    cost: Cost
    startup: Cost | None = None  # a 1-page run: imports, engine start and stop
    startup_pages: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def pages_per_s(self) -> float:
        return self.pages / self.cost.wall_s

    @property
    def links_per_s(self) -> float:
        return self.links / self.cost.wall_s

    @property
    def cpu_ms_per_page(self) -> float:
        return 1000 * self.cost.cpu_s / max(self.pages, 1)

    @property
    def marginal_cpu_ms_per_page(self) -> float | None:
        """CPU per page once started: what a long crawl converges to."""
        if self.startup is None or self.pages <= self.startup_pages:
            return None
        extra_cpu = self.cost.cpu_s - self.startup.cpu_s
        return 1000 * extra_cpu / (self.pages - self.startup_pages)

    def as_dict(self) -> dict[str, Any]:
        return {
            "pages": self.pages,
            "links": self.links,
            "hosts": self.hosts,
            "wall_s": self.cost.wall_s,
            "cpu_s": self.cost.cpu_s,
            "user_s": self.cost.user_s,
            "sys_s": self.cost.sys_s,
            "cpu_s_by_process": self.cost.cpu_by_name,
            "peak_rss_mb": self.cost.peak_rss_mb,
            "pages_per_s": self.pages_per_s,
            "links_per_s": self.links_per_s,
            "cpu_ms_per_page": self.cpu_ms_per_page,
            "startup_cpu_s": self.startup.cpu_s if self.startup else None,
            "startup_wall_s": self.startup.wall_s if self.startup else None,
            "marginal_cpu_ms_per_page": self.marginal_cpu_ms_per_page,
            **self.extra,
        }


def ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b == 0 else a / b


def _num(value: float | None, digits: int) -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}"


# (label, value of one crawler, decimals, show the linkgraph/plain ratio)
Row = tuple[str, Callable[[CrawlFigures], float | None], int, bool]
ROWS: list[Row] = [
    ("pages", lambda f: f.pages, 0, False),
    ("links", lambda f: f.links, 0, False),
    ("hosts", lambda f: f.hosts, 0, False),
    ("wall s", lambda f: f.cost.wall_s, 1, False),
    ("pages/s", lambda f: f.pages_per_s, 1, True),
    ("links/s", lambda f: f.links_per_s, 0, True),
    ("CPU s (user+sys)", lambda f: f.cost.cpu_s, 1, False),
    ("CPU ms/page", lambda f: f.cpu_ms_per_page, 2, True),
    ("startup CPU s (1-page run)", lambda f: f.startup.cpu_s if f.startup else None, 2, False),
    ("CPU ms/page after startup", lambda f: f.marginal_cpu_ms_per_page, 2, True),
    ("peak RSS MB (process tree)", lambda f: f.cost.peak_rss_mb, 0, False),
]


WIDTHS = (28, 12, 14, 17)


def _line(cells: tuple[str, ...]) -> str:
    """The label left-aligned, the figures right-aligned, in the table's columns."""
    label, *figures = cells
    rest = (c.rjust(w) for c, w in zip(figures, WIDTHS[1:], strict=True))
    return label.ljust(WIDTHS[0]) + "".join(rest)


def table(ours: CrawlFigures, plain: CrawlFigures) -> str:
    lines = [_line(("", ours.name, plain.name, f"{ours.name}/plain")), "-" * sum(WIDTHS)]
    for label, get, digits, show_ratio in ROWS:
        a, b = get(ours), get(plain)
        r = ratio(a, b) if show_ratio else None
        lines.append(_line((label, _num(a, digits), _num(b, digits), f"{r:.2f}x" if r else "")))
    return "\n".join(lines)


def verdict(ours: CrawlFigures, plain: CrawlFigures) -> str:
    r = ratio(ours.cpu_ms_per_page, plain.cpu_ms_per_page)
    assert r is not None
    outcome = "not slower per core" if r <= 1 else "SLOWER per core"
    text = (
        f"{ours.name} costs {r:.2f}x the plain spider's CPU per page "
        f"({ours.cpu_ms_per_page:.2f} vs {plain.cpu_ms_per_page:.2f} ms): {outcome}"
    )
    steady = ratio(ours.marginal_cpu_ms_per_page, plain.marginal_cpu_ms_per_page)
    if steady is not None:
        # On short runs linkgraph's fixed start (chDB, Valkey) weighs most; this is the trend.
        text += f"; {steady:.2f}x once both are started"
    return text + "."
