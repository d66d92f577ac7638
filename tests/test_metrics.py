"""/metrics text (crawler/service/metrics.py), read back with the Prometheus client's parser: each
family once with HELP and TYPE, one series per job, exact values. (Over real HTTP, against the
index at the end of a job: tests/test_service_api.py.)"""

from __future__ import annotations

from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from crawler.jobstats import JobStats
from crawler.service.metrics import render


def stats(job: str, **given: Any) -> JobStats:
    values: dict[str, Any] = {
        "job": job, "state": "running", "pages": 0, "links": 0, "bytes": 0,
        "status": dict.fromkeys(("2xx", "3xx", "4xx", "5xx", "none"), 0), "errors": {},
        "robots_refused": 0, "queued": 0, "in_flight": 0, "hosts_queued": 0, "hosts_parked": 0,
        "live_workers": 0, "started": 1.0e9, "ended": None, "elapsed_s": 0.0,
        "pages_per_s": 0.0, "max_pages": 0, "eta_s": None, "top_hosts": [], "summary": None,
    }  # fmt: skip
    values.update(given)
    return JobStats(**values)


def parsed(text: str) -> dict[str, tuple[str, str, list[tuple[str, dict[str, str], float]]]]:
    return {
        f.name: (f.type, f.documentation, [(s.name, s.labels, s.value) for s in f.samples])
        for f in text_string_to_metric_families(text)
    }


def test_every_job_is_a_series_of_each_metric_with_its_figures() -> None:
    one = stats(
        "one", pages=120, links=900, bytes=5_000_000, robots_refused=4, queued=33, in_flight=7,
        hosts_queued=5, hosts_parked=1, live_workers=2, pages_per_s=2.5, elapsed_s=48.0,
        status={"2xx": 100, "3xx": 6, "4xx": 4, "5xx": 2, "none": 8},
        errors={"timeout": 3, "dns: no such name": 1},
    )  # fmt: skip
    two = stats("two", state="finished", pages=3, links=2, status={"2xx": 3})
    families = parsed(render([one, two]))
    assert families["linkgraph_pages"][:2] == ("counter", "Pages recorded in the index.")
    assert families["linkgraph_pages"][2] == [
        ("linkgraph_pages_total", {"job": "one"}, 120),
        ("linkgraph_pages_total", {"job": "two"}, 3),
    ]
    assert families["linkgraph_links"][2] == [
        ("linkgraph_links_total", {"job": "one"}, 900),
        ("linkgraph_links_total", {"job": "two"}, 2),
    ]
    assert families["linkgraph_bytes"][2][0] == ("linkgraph_bytes_total", {"job": "one"}, 5e6)
    assert families["linkgraph_robots_refused"][2][0][2] == 4
    assert families["linkgraph_responses"][2][:5] == [
        ("linkgraph_responses_total", {"job": "one", "status_class": c}, n)
        for c, n in (("2xx", 100), ("3xx", 6), ("4xx", 4), ("5xx", 2), ("none", 8))
    ]
    assert families["linkgraph_fetch_errors"] == (
        "counter",
        "Pages recorded without a response, by the class of their fetch error.",
        [
            ("linkgraph_fetch_errors_total", {"job": "one", "class": "dns: no such name"}, 1),
            ("linkgraph_fetch_errors_total", {"job": "one", "class": "timeout"}, 3),
        ],
    )
    for name, value in (("linkgraph_queued", 33), ("linkgraph_in_flight", 7),
                        ("linkgraph_live_workers", 2), ("linkgraph_hosts_queued", 5),
                        ("linkgraph_hosts_parked", 1), ("linkgraph_pages_per_second", 2.5),
                        ("linkgraph_elapsed_seconds", 48.0)):  # fmt: skip
        assert families[name][0] == "gauge", name
        assert families[name][2][0] == (name, {"job": "one"}, value)
    assert families["linkgraph_job_state"][2] == [
        ("linkgraph_job_state", {"job": "one", "state": "running"}, 1),
        ("linkgraph_job_state", {"job": "two", "state": "finished"}, 1),
    ]


def test_help_and_type_come_once_even_without_jobs() -> None:
    text = render([])
    lines = text.splitlines()
    assert all(line.startswith(("# HELP ", "# TYPE ")) for line in lines)
    helped = [line.split()[2] for line in lines if line.startswith("# HELP")]
    assert len(helped) == len(set(helped)) == len(parsed(text)) == 14


def test_label_values_are_escaped() -> None:
    odd = 'a "quoted" back\\slash\nnewline'
    text = render([stats("j", errors={odd: 2})])
    (sample,) = parsed(text)["linkgraph_fetch_errors"][2]
    assert sample == ("linkgraph_fetch_errors_total", {"job": "j", "class": odd}, 2)
