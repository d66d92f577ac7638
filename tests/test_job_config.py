"""Job config files: `linkgraph crawl --config job.toml` takes the job spec, seeds and workers from
TOML, flags override it, and `linkgraph jobs show JOB` prints a saved spec as the TOML that
`--config` reads back. Bad files are one line naming the key, and start nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import redis

from crawler import jobs
from crawler.demo.server import LocalWebServer
from crawler.jobconfig import spec_toml, tomllib
from crawler.jobspec import JobSpec
from crawler.processes.valkey import EmbeddedValkey
from tests.conftest import SHORT_BACKOFF, query, run_cli, run_linkgraph
from tests.testweb import TestWeb


def saved_spec(url: str, job: str) -> JobSpec:
    client = redis.Redis.from_url(url)
    try:
        spec = jobs.load(client, job)
    finally:
        client.close()
    assert spec is not None
    return spec


def test_jobs_show_prints_toml_that_config_reads_back(
    web: TestWeb, served: tuple[LocalWebServer, Path], tmp_path: Path, own_redis: EmbeddedValkey
) -> None:
    server, hosts_file = served
    data, seeds = tmp_path / "data", web.seeds(server.port)
    run_linkgraph(
        "crawl", *seeds, "--job", "first", "--data-dir", str(data), "--redis", own_redis.url,
        "--hosts-file", str(hosts_file), "--allow-private", "--delay", "0.05", "--max-pages",
        "12", "--max-depth", "3", "--allow-domain", "example.com", "--deny-domain",
        "evil.example.com", "--user-agent", 'linkgraph-test/1 "quoted" \\ back', "-q",
        "-s", "DOWNLOAD_TIMEOUT=7", *SHORT_BACKOFF, "--workers", "1",
    )  # fmt: skip
    first = saved_spec(own_redis.url, "first")
    shown = run_linkgraph("jobs", "show", "first", "--redis", own_redis.url).stdout
    assert shown == spec_toml(first)
    parsed = tomllib.loads(shown)
    assert parsed == json.loads(first.to_json())  # every field, with its type
    assert parsed["hosts"] == first.hosts and len(first.hosts) == len(web.hosts())
    assert parsed["settings"] == {"DOWNLOAD_TIMEOUT": 7} and parsed["retry_backoff"] == 0.2

    # the same file starts another job (its name and seeds given as flags) with the same spec
    config = tmp_path / "first.toml"
    config.write_text(shown)
    run_linkgraph("crawl", "--config", str(config), "--job", "second", *seeds, "--data-dir",
                  str(data), "--redis", own_redis.url, "-q", "--workers", "1")  # fmt: skip
    second = saved_spec(own_redis.url, "second")
    assert second == JobSpec(**{**json.loads(first.to_json()), "job": "second"})
    again = run_linkgraph("jobs", "show", "second", "--redis", own_redis.url).stdout
    assert again == shown.replace("job first", "job second").replace(
        'job = "first"', 'job = "second"'
    )
    assert query(data, "SELECT count() FROM pages WHERE job = 'second'") == [(12,)]


def test_config_gives_seeds_workers_and_spec_and_flags_override_it(
    web: TestWeb, served: tuple[LocalWebServer, Path], tmp_path: Path, own_redis: EmbeddedValkey
) -> None:
    server, hosts_file = served
    data = tmp_path / "data"
    config = tmp_path / "job.toml"
    seeds = ", ".join(json.dumps(url) for url in web.seeds(server.port))
    config.write_text(
        f'job = "fromfile"\nseeds = [{seeds}]\nworkers = 2\ndelay = 0.5\nmax_pages = 9\n'
        f"allow_private = true\nmax_depth = 2\nretry_backoff = 0.2\n\n[settings]\n"
        "DOWNLOAD_TIMEOUT = 30\n"
    )
    proc = run_linkgraph("crawl", "--config", str(config), "--delay", "0.01", "--hosts-file",
                         str(hosts_file), "--data-dir", str(data), "--redis", own_redis.url,
                         "-q")  # fmt: skip
    spec = saved_spec(own_redis.url, "fromfile")
    assert (spec.delay, spec.max_pages, spec.max_depth, spec.allow_private) == (0.01, 9, 2, True)
    assert spec.settings == {"DOWNLOAD_TIMEOUT": 30} and spec.retry_backoff == 0.2
    assert spec.hosts == {name: "127.0.0.1" for name in web.hosts()}
    assert query(data, "SELECT count() FROM pages WHERE job = 'fromfile'") == [(9,)]
    assert "job fromfile: finished; this run recorded" in proc.stderr
    # two workers crawled it: the coordinator recorded fewer pages itself than the job holds
    mine = int(proc.stderr.split("this run recorded ", 1)[1].split()[0])
    assert 0 < mine <= 9


@pytest.mark.parametrize(
    ("text", "error"),
    [
        (
            "colour = 'blue'\n",
            "colour: unknown key (a job config takes the job spec's fields, "
            "seeds and workers: see `linkgraph jobs show JOB`)",
        ),
        ("delay = 'fast'\n", "delay: 'fast' is not a number"),
        ("max_pages = -1\n", "max_pages: -1 is negative"),
        ("max_pages = 2.5\n", "max_pages: 2.5 is not of type int"),
        ("allow_private = 1\n", "allow_private: 1 is not of type bool"),
        ("follow_links = 'yes'\n", "follow_links: 'yes' is not of type bool"),
        ("scope = 'planet'\n", "scope: 'planet' is not one of all, same-domain, seed-domains"),
        ("workers = 0\n", "workers: 0 is not a whole number of at least 1"),
        (
            "seeds = ['ftp://example.com/']\n",
            "seeds[0]: 'ftp://example.com/' is not an absolute http(s) URL",
        ),
        ("seeds = 'http://example.com/'\n", "seeds: give a list of URLs"),
        (
            "job = 'no spaces'\n",
            "job: 'no spaces': a job name is 1-64 letters, digits, '.', '_' or '-'",
        ),
        (
            "[settings]\nNOPE_SETTING = 1\n",
            "settings.NOPE_SETTING: no setting NOPE_SETTING in crawler/settings.py or Scrapy's",
        ),
        (
            "[settings]\nLINKGRAPH_DELAY = 1.0\n",
            "settings.LINKGRAPH_DELAY: give it as the key delay, not in settings",
        ),
        (
            "[settings]\nREDIS_URL = 'redis://x'\n",
            "settings.REDIS_URL: REDIS_URL is set by --redis, not in settings",
        ),
        ("[hosts]\n'a.example' = 1\n", "hosts: give each host's address as a string"),
    ],
)
def test_a_bad_config_is_one_line_naming_the_key(tmp_path: Path, text: str, error: str) -> None:
    config = tmp_path / "job.toml"
    config.write_text(text)
    data = tmp_path / "data"
    status, out, err = run_cli("crawl", "--config", str(config), "--data-dir", str(data),
                               "http://example.com/")  # fmt: skip
    assert (status, out, err) == (2, "", f"linkgraph: error: {config}: {error}\n")
    assert not data.exists()  # nothing started, nothing created


def test_a_config_that_is_not_toml_or_not_there_is_one_line(tmp_path: Path) -> None:
    config = tmp_path / "job.toml"
    config.write_text("delay = \n")
    status, _, err = run_cli("crawl", "--config", str(config), "http://example.com/")
    assert status == 2
    assert err == (f"linkgraph: error: config file {config} is not valid TOML: Invalid value "
                   "(at line 1, column 9)\n")  # fmt: skip
    missing = tmp_path / "nope.toml"
    status, _, err = run_cli("crawl", "--config", str(missing), "http://example.com/")
    assert (status, err) == (
        2, f"linkgraph: error: cannot read config file {missing}: No such file or directory\n"
    )  # fmt: skip
