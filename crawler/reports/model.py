"""What a report is: its parameters, each checked by its kind and each turning into a SQL
condition with a server-side parameter (`{target:String}`), and its query with the default
order and row limit. The command line, the docs and the tests are derived from these."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from crawler.errors import UsageError
from crawler.reports.values import COUNT, FLAG, SCOPES, TARGET, Kind, Target

Values = dict[str, Any]
# Markers in a query's text that the conditions of the given parameters replace. A ClickHouse
# parameter always has a type (`{name:Type}`), so the two cannot be confused.
WHERE, HAVING = "{where}", "{having}"
_READS = re.compile(r"(?<!ARRAY )\b(?:FROM|JOIN)\s+([a-z_]+)")
_SCOPE_NAMES = {"domain": "registered domain", "host": "host name", "url": "URL"}


@dataclass(frozen=True, slots=True)
class Param:
    """A parameter: a positional argument or an option on the command line, a query-string
    parameter over HTTP. Given (a flag: set), it adds `condition` to the query, over the rows
    (WHERE) or, with `grouped`, over the grouped rows (HAVING). A TARGET's condition is on the
    `dst_` column of its scope."""

    name: str
    kind: Kind
    help: str
    positional: bool = False
    many: bool = False
    required: bool = False
    default: Any = None
    condition: str = ""
    grouped: bool = False
    exclusive: str = ""
    group: str = ""
    scopes: tuple[str, ...] = SCOPES
    metavar: str = ""

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def meta(self) -> str:
        """How --help names the value: the kind's name for it unless the report has a better."""
        return self.metavar or self.kind.metavar

    @property
    def label(self) -> str:
        return self.meta if self.positional else self.flag

    def check(self, raw: Any) -> Any:
        """The value, checked; the default when not given."""
        if raw is None or raw == [] or (self.kind is FLAG and raw is False):
            if self.required:
                raise UsageError(f"{self.label} is required")
            return self.default
        if self.many:
            items = [raw] if isinstance(raw, str) else list(raw)
            return list(dict.fromkeys(self._one(item) for item in items))
        return self._one(raw)

    def _one(self, raw: Any) -> Any:
        try:
            value = self.kind.check(raw)
        except UsageError as exc:
            raise UsageError(f"{self.label} {exc}" if not self.positional else str(exc)) from None
        if isinstance(value, Target) and value.scope not in self.scopes:
            wanted = " or ".join(_SCOPE_NAMES[s] for s in self.scopes)
            raise UsageError(f"{self.label} must be a {wanted}, not a {_SCOPE_NAMES[value.scope]}")
        return value

    def sql(self, value: Any) -> str:
        if self.kind is TARGET:
            return f"dst_{value.scope} = {{{self.name}:String}}"
        return self.condition


@dataclass(frozen=True, slots=True)
class Query:
    """SELECT text with the markers {where} (and {having}) and without ORDER BY or LIMIT, the
    columns it returns, and the default order of its rows."""

    sql: str
    columns: tuple[str, ...]
    order_by: str = ""

    @property
    def reads(self) -> tuple[str, ...]:
        """The views and tables it reads, as the docs list them."""
        return tuple(dict.fromkeys(_READS.findall(self.sql)))


@dataclass(frozen=True)
class Report:
    """A report: `query`, or the `variants[flag]` query when that flag is set; at most `limit`
    rows unless --limit says otherwise. A document report (profile) has `sections` instead:
    `document` runs them into one dict, which `render` prints in one of `formats`."""

    name: str
    help: str
    params: tuple[Param, ...]
    query: Query | None = None
    variants: tuple[tuple[str, Query], ...] = ()
    limit: int = 50
    check: Callable[[Values], None] | None = None
    sections: tuple[tuple[str, Query], ...] = ()
    document: Callable[..., dict[str, Any]] | None = None
    render: Callable[[dict[str, Any], str], str] | None = None
    formats: tuple[str, ...] = ()
    all_params: tuple[Param, ...] = field(init=False)

    def __post_init__(self) -> None:
        # 0 = no limit, as for every limit linkgraph takes (crawl --max-pages, ...)
        rows = Param("limit", COUNT, f"at most N rows (default {self.limit}; 0: no limit)",
                     default=self.limit)  # fmt: skip
        object.__setattr__(self, "all_params", self.params + ((rows,) if self.query else ()))

    @property
    def queries(self) -> tuple[Query, ...]:
        main = (self.query,) if self.query else ()
        return main + tuple(q for _, q in self.variants) + tuple(q for _, q in self.sections)

    def values(self, params: Mapping[str, Any]) -> Values:
        """Every parameter checked, defaults filled in; unknown or conflicting ones refused."""
        known = {p.name: p for p in self.all_params}
        unknown = sorted(set(params) - set(known))
        if unknown:
            raise UsageError(f"{self.name} has no parameter {unknown[0]!r}")
        values = {name: p.check(params.get(name)) for name, p in known.items()}
        given: dict[str, Param] = {}
        for p in self.all_params:
            if p.exclusive and values[p.name] not in (None, False):
                other = given.setdefault(p.exclusive, p)
                if other is not p:
                    raise UsageError(f"{other.flag} and {p.flag} exclude each other")
        if self.check:
            self.check(values)
        return values

    def statement(self, values: Values) -> tuple[str, dict[str, Any]]:
        """(SQL text, server-side parameters) of the report for checked `values`."""
        query = next((q for flag, q in self.variants if values.get(flag)), self.query)
        if query is None:
            raise UsageError(f"{self.name} is a document: run it with run_report")
        sql = self.conditions(query.sql, values)
        if query.order_by:
            sql += f"\nORDER BY {query.order_by}"
        if values.get("limit"):
            sql += "\nLIMIT {limit:UInt64}"
        return sql, self.parameters(sql, values)

    def conditions(self, sql: str, values: Values) -> str:
        where: list[str] = []
        having: list[str] = []
        for p in self.all_params:
            value = values.get(p.name)
            if value not in (None, False) and (condition := p.sql(value)):
                (having if p.grouped else where).append(condition)
        return sql.replace(WHERE, " AND ".join(where) or "1").replace(
            HAVING, " AND ".join(having) or "1"
        )

    def parameters(self, sql: str, values: Values) -> dict[str, Any]:
        """The values `sql` refers to, as ClickHouse reads them."""
        bound = {}
        for p in self.all_params:
            value = values.get(p.name)
            if value is not None and "{" + p.name + ":" in sql:
                bound[p.name] = [p.kind.bind(v) for v in value] if p.many else p.kind.bind(value)
        return bound
