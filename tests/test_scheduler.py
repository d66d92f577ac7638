"""The scheduler over a real Valkey: what it does with the requests Scrapy hands it.

The crawler is built in a subprocess, as a crawl builds it (spider first, then the settings'
components), because that installs Twisted's reactor, which a test process must not keep.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import redis

from crawler.processes.valkey import EmbeddedValkey
from tests.conftest import ROOT

SCRIPT = """
import json, sys
from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.settings import Settings
from crawler.frontier import Entry, frontier_for
from crawler.frontier.scheduler import FrontierScheduler
from crawler.spiders.links import LinkSpider

settings = Settings()
settings.setmodule("crawler.settings")
# the scheduler's own calls, each answered at once (the frontier thread's: test_prefetch.py)
settings.update({"REDIS_URL": sys.argv[1], "LINKGRAPH_JOB": "sched",
                 "LINKGRAPH_FRONTIER_PARTITIONS": int(sys.argv[2]),
                 "LINKGRAPH_FRONTIER_THREAD": False})
crawler = Crawler(LinkSpider, settings, init_reactor=True)
crawler.spider = crawler._create_spider()  # as Crawler.crawl does first
crawler._apply_settings()
spider, frontier = crawler.spider, frontier_for(crawler)
seen = [frontier is spider.frontier]
scheduler = FrontierScheduler.from_crawler(crawler)
scheduler.open(spider)

def state():
    return [frontier.stats().get("leased", 0), frontier.queued()]

seed = spider.request_for(Entry.new("http://a.test/", 0)).replace(dont_filter=False)
seen += [scheduler.enqueue_request(seed), scheduler.enqueue_request(seed), state()]
popped = scheduler.queue.pop()
seen += [popped.url, popped.dont_filter, state()]
seen += [scheduler.enqueue_request(popped), state()]
fresh = Request("http://b.test/", dont_filter=True)
seen += [scheduler.enqueue_request(fresh), scheduler.enqueue_request(fresh), state()]
scheduler.close("finished")
print(json.dumps(seen))
"""


@pytest.mark.parametrize("partitions", [1, 4], ids=["P=1", "P=4"])
def test_dont_filter_is_honoured_and_seeds_are_checked(
    redis_server: str, redis_client: redis.Redis, partitions: int
) -> None:
    proc = subprocess.run([sys.executable, "-c", SCRIPT, redis_server, str(partitions)],
                          capture_output=True, text=True, cwd=ROOT, timeout=120,
                          check=True)  # fmt: skip
    observed = json.loads(proc.stdout.strip().splitlines()[-1])
    assert observed == [
        True,  # the components' frontier is the spider's
        True, False, [0, 1],  # a seed is queued once: a resumed job skips its seeds
        "http://a.test/", True, [1, 0],  # popped requests carry dont_filter...
        True, [0, 1],  # ...so one rescheduled goes back to its queue, its lease ended
        # any other dont_filter request skips the dupefilter, but the frontier queues a URL
        # once per job: a second fetch would record the page twice
        True, False, [0, 2],
    ]  # fmt: skip


OPEN_SCRIPT = """
import json, logging, sys
from scrapy.crawler import Crawler
from scrapy.exceptions import CloseSpider
from scrapy.settings import Settings
from crawler.frontier.scheduler import FrontierScheduler
from crawler.spiders.links import LinkSpider

said = []
class Said(logging.Handler):
    def emit(self, record):
        said.append((record.levelname, record.getMessage()))
logging.getLogger().addHandler(Said())
settings = Settings()
settings.setmodule("crawler.settings")
settings.update({"REDIS_URL": sys.argv[1], "LINKGRAPH_JOB": "sched", "LINKGRAPH_REDIS_TIMEOUT": 2})
crawler = Crawler(LinkSpider, settings, init_reactor=True)
crawler.spider = crawler._create_spider()
crawler._apply_settings()
scheduler = FrontierScheduler.from_crawler(crawler)
print("built", flush=True)
sys.stdin.readline()  # the test stops Valkey here
try:
    scheduler.open(crawler.spider)
    reason = None
except CloseSpider as exc:
    reason = exc.reason
scheduler.close(reason or "finished")
print(json.dumps([reason, crawler.stats.get_value("linkgraph/frontier_error"),
                  [m for m in said if m[0] in ("ERROR", "CRITICAL")]]))
"""


def test_redis_lost_as_the_scheduler_opens_ends_the_crawl_in_one_line(
    own_redis: EmbeddedValkey,
) -> None:
    """Redis answered the start's checks and is gone when the scheduler opens: the crawl is
    closed as a frontier error, said in one line, instead of a traceback out of Scrapy."""
    url = own_redis.url
    proc = subprocess.Popen([sys.executable, "-c", OPEN_SCRIPT, url], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=ROOT)  # fmt: skip
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "built"
        own_redis.stop()
        out, err = proc.communicate("go\n", timeout=120)
    finally:
        proc.kill()
    reason, noted, errors = json.loads(out.strip().splitlines()[-1])
    assert (reason, noted) == ("frontier_error", 1), err
    assert len(errors) == 1 and errors[0][1] == (
        f"frontier error, stopping: RedisUnreachable: Redis at {url} unreachable for 2 s"
    )
    assert "Traceback" not in err
