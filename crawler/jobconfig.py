"""Job config files: a crawl job's spec as TOML, read by `linkgraph crawl --config FILE` and
printed by `linkgraph jobs show JOB`, so a saved job is the file that starts it again.

The keys are the job spec's field names (crawler/jobspec.py), with their setting's type (the
`settings` table holds `-s NAME=VALUE` settings by name), plus `seeds` (URLs) and `workers`.
Every value is checked as a flag's is; an unknown key or a bad value is one line naming it.
Flags given with `--config` override the file's values.
"""

from __future__ import annotations

import json
import math
import re
import sys
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from crawler.errors import UsageError
from crawler.jobspec import FIELDS, HIDDEN, NOT_BY_SET, JobSpec, hide_password
from crawler.scope import read_domains
from crawler.setting_values import check_value, default_of
from crawler.urls import canonicalize

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

SPEC_FIELDS = {f.name: f for f in fields(JobSpec)}
# Spec fields a file gives otherwise than through their setting (see `read_config`).
OWN_KEYS = ("job", "clickhouse_url", "database", "settings")
BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


@dataclass(frozen=True)
class JobConfig:
    job: str | None
    given: dict[str, Any]  # setting name -> checked value, as flags give them
    seeds: list[str]  # canonical
    workers: int | None
    clickhouse_url: str | None  # this process's own URL, with its password (None: not given)


def read_config(path: str | Path) -> JobConfig:
    """The job config in the TOML file at `path`, checked."""
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"cannot read config file {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise UsageError(f"config file {path} is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"config file {path} is not valid TOML: {exc}") from None
    given: dict[str, Any] = {}
    job, seeds, workers, own_url = None, [], None, None
    for key, value in data.items():
        where = f"{path}: {key}"
        if key == "seeds":
            seeds = checked_seeds(value, where)
        elif key == "workers":
            if type(value) is not int or value < 1:
                raise UsageError(f"{where}: {value!r} is not a whole number of at least 1")
            workers = value
        elif key == "job":
            job = checked_job(value, where)
        elif key == "clickhouse_url":
            own_url = _text(value, where)
            given["LINKGRAPH_CLICKHOUSE_URL"] = hide_password(own_url) if own_url else ""
            if urlsplit(own_url).password == HIDDEN:
                own_url = None  # as saved: the password comes from --clickhouse or $LINKGRAPH_...
        elif key == "database":
            given["LINKGRAPH_DATABASE"] = _text(value, where)
        elif key == "settings":
            _settings(value, where, given)
        elif key in SPEC_FIELDS:
            name = SPEC_FIELDS[key].metadata["setting"]
            given[name] = _checked(name, value, where)
        else:
            raise UsageError(
                f"{where}: unknown key (a job config takes the job spec's fields, seeds and "
                "workers: see `linkgraph jobs show JOB`)"
            )
    return JobConfig(job, given, seeds, workers, own_url)


def _checked(name: str, value: Any, where: str) -> Any:
    default = default_of(name)
    if isinstance(value, bool) != isinstance(default, bool) and default is not None:
        raise UsageError(f"{where}: {value!r} is not of type {type(default).__name__}")
    value = check_value(name, value, where)
    if name in ("LINKGRAPH_ALLOW_DOMAINS", "LINKGRAPH_DENY_DOMAINS"):
        value = sorted(read_domains([_text(v, where) for v in value], []))
    elif name == "LINKGRAPH_HOSTS" and not all(isinstance(v, str) for v in value.values()):
        raise UsageError(f"{where}: give each host's address as a string")
    return value


def _settings(table: Any, where: str, given: dict[str, Any]) -> None:
    if not isinstance(table, dict):
        raise UsageError(f"{where}: give a table of NAME = value")
    for name, value in table.items():
        at = f"{where}.{name}"
        if name in NOT_BY_SET:
            raise UsageError(f"{at}: {name} is set by {NOT_BY_SET[name]}, not in settings")
        if name in FIELDS:
            raise UsageError(f"{at}: give it as the key {FIELDS[name]}, not in settings")
        if not name.isupper() or (default_of(name) is None and not _scrapy_knows(name)):
            raise UsageError(f"{at}: no setting {name} in crawler/settings.py or Scrapy's")
        given[name] = _checked(name, value, at)


def _scrapy_knows(name: str) -> bool:
    from scrapy.settings import default_settings

    return hasattr(default_settings, name)


def checked_seeds(value: Any, where: str = "seeds") -> list[str]:
    """Canonical seed URLs, each once, from a list (a TOML file's, or an API request's)."""
    if not isinstance(value, list | tuple):
        raise UsageError(f"{where}: give a list of URLs")
    seeds = []
    for i, url in enumerate(value):
        canonical = canonicalize(url) if isinstance(url, str) else None
        if canonical is None:
            raise UsageError(f"{where}[{i}]: {url!r} is not an absolute http(s) URL")
        seeds.append(canonical)
    return list(dict.fromkeys(seeds))


def checked_job(value: Any, where: str = "job") -> str:
    from crawler.cli.common import JOB_NAME

    if not isinstance(value, str) or not JOB_NAME.match(value):
        raise UsageError(f"{where}: {value!r}: a job name is 1-64 letters, digits, '.', '_' or '-'")
    return value


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise UsageError(f"{where}: {value!r} is not a string")
    return value


def spec_toml(spec: JobSpec) -> str:
    """The spec as a job config file: every field, tables last (TOML puts them after keys)."""
    values = json.loads(spec.to_json())  # the spec as saved: a URL's password hidden
    lines = [
        f"# linkgraph job {spec.job}: `linkgraph crawl --config FILE` reads this back",
        "# (add seeds = [...] to start a new job with it)",
    ]
    tables = []
    for name in SPEC_FIELDS:
        value = values[name]
        if isinstance(value, dict):
            tables.append((name, value))
        else:
            lines.append(f"{toml_key(name)} = {toml_value(value)}")
    for name, table in tables:
        lines += ["", f"[{toml_key(name)}]"]
        lines += [f"{toml_key(k)} = {toml_value(v)}" for k, v in sorted(table.items())]
    return "\n".join(lines) + "\n"


def toml_key(key: str) -> str:
    return key if BARE_KEY.match(key) else toml_value(key)


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return repr(value) if math.isfinite(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, str):
        # a JSON string is a TOML basic string, but for DEL, which TOML wants escaped
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        items = ", ".join(f"{toml_key(k)} = {toml_value(v)}" for k, v in sorted(value.items()))
        return "{ " + items + " }" if items else "{}"
    raise ValueError(f"{value!r} has no TOML form")
