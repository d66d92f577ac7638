"""`linkgraph serve` over real HTTP: a real subprocess owning the embedded Valkey and chDB, jobs
crawling the test web in worker processes it supervises, compared with the ground truth."""

from __future__ import annotations

import json
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from crawler.demo.server import LocalWebServer
from tests.conftest import RETRY_BACKOFF, run_cli, run_linkgraph
from tests.serving import Served, alive, descendants, serve, wait_until
from tests.testweb import TestWeb, build_test_web


@pytest.fixture(scope="module")
def test_web() -> Iterator[tuple[TestWeb, LocalWebServer]]:
    web = build_test_web()
    with LocalWebServer(web) as server:
        yield web, server


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with serve(tmp_path_factory.mktemp("serve") / "data") as served:
        yield served


def submission(web: TestWeb, port: int, job: str, delay: float, workers: int) -> dict[str, Any]:
    return {
        "job": job,
        "seeds": web.seeds(port),
        "workers": workers,
        "spec": {
            "delay": delay,
            "allow_private": True,
            "hosts": dict.fromkeys(web.hosts(), "127.0.0.1"),
            "retry_backoff": RETRY_BACKOFF,
            # rows reach the index in small batches, so its count grows while the job runs
            "settings": {"LINKGRAPH_BATCH_SECONDS": 0.3},
        },
    }


def count(service: Served, table: str, job: str) -> int:
    return int(service.sql(f"SELECT count() FROM {table} WHERE job = '{job}'"))


def rows(service: Served, query: str) -> list[dict[str, Any]]:
    from urllib.parse import urlencode

    answer = service.ok("GET", "/api/sql?" + urlencode({"query": query, "format": "JSON"}))
    return list(answer["data"])


def job_state(service: Served, job: str) -> dict[str, Any]:
    answer: dict[str, Any] = service.ok("GET", f"/api/jobs/{job}")
    return answer


def ended(service: Served, job: str) -> bool:
    """The job's run has ended, and its end (with the summary) is recorded."""
    return job_state(service, job)["summary"] is not None


def test_a_job_crawls_the_test_web_exactly_while_the_index_answers(
    service: Served, test_web: tuple[TestWeb, LocalWebServer]
) -> None:
    web, server = test_web
    started = service.ok("POST", "/api/jobs", submission(web, server.port, "e2e", 0.2, 2))
    assert (started["job"], started["state"], started["pages"]) == ("e2e", "running", 0)
    # the index's count while the job runs: over HTTP, and by `linkgraph sql` on the data dir
    seen: list[int] = []
    said: list[int] = []
    sql = "SELECT count() FROM pages WHERE job = 'e2e'"
    while (state := job_state(service, "e2e"))["summary"] is None:  # saved once it ended
        seen.append(count(service, "pages", "e2e"))
        status, out, err = run_cli("sql", "--data-dir", str(service.data_dir), sql)
        assert (status, err) == (0, "")
        said.append(int(out))
    assert state["state"] == "finished", state
    expected = web.expected_pages(server.port)
    for counts in (seen, said):
        assert counts == sorted(counts), f"the count went down: {counts}"
        growing = {n for n in counts if 0 < n < len(expected)}
        assert len(growing) >= 2, f"the count did not grow by steps while the job ran: {counts}"

    pages = rows(service, "SELECT url, status, error FROM pages WHERE job = 'e2e'")
    assert len(pages) == len({p["url"] for p in pages}), "a page was recorded twice"
    assert {p["url"]: p["status"] for p in pages} == expected
    assert {p["url"]: p["error"] for p in pages if p["error"]} == web.expected_errors(server.port)
    links = rows(
        service,
        "SELECT src_url, dst_url, anchor, nofollow, ugc, sponsored, tag, type FROM links "
        "WHERE job = 'e2e'",
    )
    got = sorted(
        (r["src_url"], r["dst_url"], r["anchor"], bool(r["nofollow"]), bool(r["ugc"]),
         bool(r["sponsored"]), r["tag"], r["type"]) for r in links
    )  # fmt: skip
    want = sorted(
        (s, d, a, "nofollow" in rel, "ugc" in rel, "sponsored" in rel, tag, kind)
        for s, d, a, rel, tag, kind in web.expected_typed_links(server.port)
    )
    assert got == want

    final = job_state(service, "e2e")
    assert (final["pages"], final["links"]) == (len(expected), len(want))
    assert (final["queued"], final["in_flight"], final["live_workers"]) == (0, 0, 0)
    assert final["summary"]["outcome"] == "finished"
    listed = service.ok("GET", "/api/jobs")["jobs"]
    assert [j for j in listed if j["job"] == "e2e"] == [final]


def test_metrics_parse_and_equal_the_index_at_the_end(service: Served) -> None:
    assert job_state(service, "e2e")["state"] == "finished"  # the test above ran it
    status, text = service.call("GET", "/metrics")
    assert status == 200
    families = {f.name: f for f in text_string_to_metric_families(text)}
    for name, kind in (
        ("linkgraph_pages", "counter"), ("linkgraph_links", "counter"),
        ("linkgraph_fetch_errors", "counter"), ("linkgraph_responses", "counter"),
        ("linkgraph_robots_refused", "counter"), ("linkgraph_bytes", "counter"),
        ("linkgraph_queued", "gauge"), ("linkgraph_in_flight", "gauge"),
        ("linkgraph_live_workers", "gauge"),
    ):  # fmt: skip
        assert families[name].type == kind, name
        assert families[name].documentation, name

    def samples(family: str) -> dict[tuple[tuple[str, str], ...], float]:
        return {
            tuple(sorted(s.labels.items())): s.value
            for s in families[family].samples
            if s.labels["job"] == "e2e"
        }

    job = (("job", "e2e"),)
    assert samples("linkgraph_pages") == {job: count(service, "pages", "e2e")}
    assert samples("linkgraph_links") == {job: count(service, "links", "e2e")}
    (total_bytes,) = rows(service, "SELECT toString(sum(bytes)) AS b FROM pages WHERE job='e2e'")
    assert samples("linkgraph_bytes") == {job: int(total_bytes["b"])}
    by_class = rows(
        service,
        "SELECT multiIf(status = 0, 'none', status < 200, '1xx', status >= 500, '5xx', "
        "concat(toString(intDiv(status, 100)), 'xx')) AS c, toString(count()) AS n "
        "FROM pages WHERE job = 'e2e' GROUP BY c",
    )
    want = dict.fromkeys(("2xx", "3xx", "4xx", "5xx", "none"), 0)
    want.update({r["c"]: int(r["n"]) for r in by_class})
    assert samples("linkgraph_responses") == {
        (("job", "e2e"), ("status_class", c)): n for c, n in want.items()
    }
    (refused,) = rows(
        service,
        "SELECT toString(countIf(error = 'robots' OR startsWith(error, 'robots:'))) AS n "
        "FROM pages WHERE job = 'e2e'",
    )
    assert int(refused["n"]) > 0  # the test web refuses some pages by robots.txt
    assert samples("linkgraph_robots_refused") == {job: int(refused["n"])}
    assert samples("linkgraph_queued") == {job: 0}
    assert samples("linkgraph_in_flight") == {job: 0}
    assert samples("linkgraph_live_workers") == {job: 0}


def test_pause_resume_and_stop_steer_a_running_job(
    service: Served, test_web: tuple[TestWeb, LocalWebServer]
) -> None:
    web, server = test_web
    body = submission(web, server.port, "steered", 0.5, 1)
    service.ok("POST", "/api/jobs", body)
    wait_until(lambda: job_state(service, "steered")["live_workers"] == 1, "the worker runs")
    assert service.call("POST", "/api/jobs", body) == (
        409, {"error": "job 'steered' is running: stop it first, or give another name"}
    )  # fmt: skip
    assert service.ok("POST", "/api/jobs/steered/pause")["state"] == "paused"
    assert job_state(service, "steered")["state"] == "paused"
    assert service.ok("POST", "/api/jobs/steered/resume")["state"] == "running"
    service.ok("POST", "/api/jobs/steered/stop")
    wait_until(lambda: ended(service, "steered"), "the job stops")
    stopped = job_state(service, "steered")
    assert (stopped["state"], stopped["live_workers"]) == ("stopped", 0)
    expected = web.expected_pages(server.port)
    assert stopped["pages"] < len(expected)
    assert count(service, "pages", "steered") == stopped["pages"]
    # resumed, it starts workers again and ends with nothing lost nor recorded twice
    assert service.ok("POST", "/api/jobs/steered/resume")["state"] == "running"
    wait_until(lambda: ended(service, "steered"), "the job ends", 300)
    assert job_state(service, "steered")["state"] == "finished"
    pages = rows(service, "SELECT url, status FROM pages WHERE job = 'steered'")
    assert {p["url"]: p["status"] for p in pages} == expected
    assert len(pages) == len(expected)


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "error"),
    [
        ("POST", "/api/jobs", b"{seeds", 400, "the body is not JSON: Expecting property name "
         "enclosed in double quotes: line 1 column 2 (char 1)"),
        ("POST", "/api/jobs", b"[]", 400, "the body is not a JSON object"),
        ("POST", "/api/jobs", {"seeds": ["http://a.test/"], "depth": 1}, 400,
         "depth: no such field (give job, seeds, workers, spec)"),
        ("POST", "/api/jobs", {"seeds": ["http://a.test/"], "spec": {"max_hops": 3}}, 400,
         "spec.max_hops: no such job spec field (see crawler/jobspec.py)"),
        ("POST", "/api/jobs", {"seeds": ["http://a.test/"], "spec": {"delay": -1}}, 400,
         "spec.delay: -1 is negative"),
        ("POST", "/api/jobs", {"seeds": ["http://a.test/"], "spec": {"max_pages": "many"}}, 400,
         "spec.max_pages: 'many' is not a whole number"),
        ("POST", "/api/jobs", {"seeds": ["http://a.test/"], "spec": {"scope": "web"}}, 400,
         "spec.scope: 'web' is not one of all, same-domain, seed-domains"),
        ("POST", "/api/jobs", {"seeds": ["http://a.test/"], "spec": {"hosts": {"a.test": "x"}}},
         400, "spec.hosts.a.test: 'x' is not an IP address"),
        ("POST", "/api/jobs", {"seeds": ["http://a.test/"], "spec": {"clickhouse_url": ""}}, 400,
         "spec.clickhouse_url: set by the service's --clickhouse"),
        ("POST", "/api/jobs", {"seeds": ["ftp://a.test/"]}, 400,
         "seeds[0]: 'ftp://a.test/' is not an absolute http(s) URL"),
        ("POST", "/api/jobs", {"seeds": ["http://a.test/"], "workers": 0}, 400,
         "workers: give 1 to 64"),
        ("POST", "/api/jobs", {"job": "a b", "seeds": ["http://a.test/"]}, 400,
         "job: 'a b': a job name is 1-64 letters, digits, '.', '_' or '-'"),
        ("POST", "/api/jobs", {"job": "fresh"}, 400,
         "seeds: give the URLs to start job 'fresh' from"),
        ("GET", "/api/jobs/nosuch", None, 404, "no job 'nosuch' (see GET /api/jobs)"),
        ("POST", "/api/jobs/nosuch/pause", None, 404, "no job 'nosuch' (see GET /api/jobs)"),
        ("POST", "/api/jobs/nosuch/resume", None, 404, "no job 'nosuch' (see GET /api/jobs)"),
        ("GET", "/api/nothing", None, 404, "Not Found: GET /api/nothing"),
        ("DELETE", "/api/jobs", None, 405, "Method Not Allowed: DELETE /api/jobs"),
    ],
)  # fmt: skip
def test_bad_input_gets_a_4xx_with_one_line_of_json(
    service: Served, method: str, path: str, body: Any, status: int, error: str
) -> None:
    assert service.call(method, path, body) == (status, {"error": error})
    assert "fresh" not in [j["job"] for j in service.ok("GET", "/api/jobs")["jobs"]]


def test_health_and_readiness(service: Served) -> None:
    assert service.call("GET", "/healthz") == (200, {"ok": True})
    assert service.call("GET", "/readyz") == (200, {"ok": True})


def test_the_openapi_document_covers_every_route(service: Served, tmp_path: Path) -> None:
    from crawler.frontier.connection import connect as connect_redis
    from crawler.reports import REPORTS
    from crawler.service.app import build_app
    from crawler.service.reads import IndexReads
    from crawler.service.service import Service, ServiceOptions
    from crawler.storage import StorageTarget

    document = service.ok("GET", "/api/openapi.json")
    assert document["openapi"].startswith("3.")
    paths = document["paths"]
    # the app's routes, built here as serve builds them (IndexReads opens nothing until read)
    reads = IndexReads(StorageTarget("", tmp_path))
    redis_url = (service.data_dir / "redis" / "server.json").read_text()
    port = json.loads(redis_url)["port"]
    client = connect_redis(f"redis://127.0.0.1:{port}/0")
    app = build_app(Service(client, "", reads, ServiceOptions(tmp_path)))
    routes = set()
    for route in app.router.routes():
        path = route.resource.canonical if route.resource else ""
        if route.method == "HEAD" or path == "/" or path.startswith("/static"):
            continue  # the dashboard's files (crawler/service/dashboard.py)
        if path == "/api/reports/{name}":
            routes |= {(f"/api/reports/{name}", route.method.lower()) for name in REPORTS}
        else:
            routes.add((path, route.method.lower()))
    assert {"/api/jobs", "/api/jobs/{job}", "/api/jobs/{job}/pause", "/api/jobs/{job}/resume",
            "/api/jobs/{job}/stop", "/api/sql", "/metrics", "/healthz", "/readyz",
            "/api/openapi.json"} <= {path for path, _ in routes}  # fmt: skip
    documented = {(path, method) for path, item in paths.items() for method in item}
    assert routes == documented
    client.close()


def test_a_token_guards_the_api(tmp_path: Path) -> None:
    with serve(tmp_path / "data", token="s3cret") as served:
        assert served.call("GET", "/api/jobs", token="") == (
            401, {"error": "give the service's token: Authorization: Bearer TOKEN"}
        )  # fmt: skip
        assert served.call("GET", "/metrics", token="wrong")[0] == 401
        assert served.call("POST", "/api/jobs", {"seeds": []}, token="")[0] == 401
        assert served.call("GET", "/api/jobs") == (200, {"jobs": []})
        assert served.call("GET", "/healthz", token="") == (200, {"ok": True})
        assert served.stop() == 0


def test_serve_refuses_a_network_address_without_a_token(tmp_path: Path) -> None:
    proc = run_linkgraph("serve", "--data-dir", str(tmp_path), "--host", "0.0.0.0", check=False)
    assert proc.returncode == 2
    assert proc.stderr == (
        "linkgraph: error: --host 0.0.0.0 is not a loopback address: give --token (or "
        "$LINKGRAPH_TOKEN), which every request must then carry\n"
    )
    assert list(tmp_path.iterdir()) == []  # nothing was started


def test_serve_on_a_port_in_use_says_so_in_one_line(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        proc = run_linkgraph("serve", "--data-dir", str(tmp_path), "--port", str(port),
                             check=False)  # fmt: skip
    assert (proc.returncode, proc.stderr) == (
        2, f"linkgraph: error: cannot listen on 127.0.0.1:{port}: address already in use\n"
    )  # fmt: skip
    assert not (tmp_path / "redis" / "server.json").exists()  # its Valkey was stopped


def test_sigterm_stops_serve_and_its_workers_within_seconds(
    tmp_path: Path, test_web: tuple[TestWeb, LocalWebServer]
) -> None:
    web, server = test_web
    with serve(tmp_path / "data") as served:
        served.ok("POST", "/api/jobs", submission(web, server.port, "long", 2.0, 2))
        wait_until(lambda: job_state(served, "long")["live_workers"] == 2, "both workers run")
        started = descendants(served.proc.pid)  # the workers and the Valkey server
        valkey = json.loads((served.data_dir / "redis" / "server.json").read_text())["pid"]
        assert valkey in started and len(started) == 3
        try:
            assert served.stop() == 0
        except subprocess.TimeoutExpired:
            raise AssertionError(f"serve did not stop: {served.output()}") from None
    assert [pid for pid in started if alive(pid)] == []
    assert not (served.data_dir / "redis" / "server.json").exists()
    # its workers finished what they fetched, and every row they handed over was stored
    with serve(served.data_dir) as again:
        state = job_state(again, "long")
        assert (state["state"], state["in_flight"]) == ("stopped", 0)
        assert count(again, "pages", "long") == state["pages"] > 0
