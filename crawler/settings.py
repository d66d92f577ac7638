"""Scrapy settings of linkgraph: every LINKGRAPH_* setting and its default is listed here.

The CLI turns flags into overrides of these; `scrapy crawl links -s NAME=VALUE` works as well.
"""

from __future__ import annotations

from crawler import USER_AGENT

BOT_NAME = "linkgraph"
SPIDER_MODULES = ["crawler.spiders"]
NEWSPIDER_MODULE = "crawler.spiders"

# -- linkgraph ------------------------------------------------------------------------------------
LINKGRAPH_JOB = "default"  # the crawl job: its frontier keys and its rows carry this name
LINKGRAPH_DATA_DIR = "linkgraph-data"  # embedded Redis and chDB files live here
LINKGRAPH_CLICKHOUSE_URL = ""  # "" = embedded chDB under the data dir; else http(s)://...
LINKGRAPH_DATABASE = "linkgraph"
LINKGRAPH_SEEDS: list[str] = []  # canonical seed URLs, fed by the spider's start()
LINKGRAPH_DELAY = 1.0  # seconds between two requests to one host, across all workers
LINKGRAPH_MAX_DELAY = 30.0  # a robots.txt Crawl-delay above this is clamped to it
LINKGRAPH_PRIORITY = "crawler.frontier.priority.by_depth"  # (url, depth) -> int, smaller first
LINKGRAPH_LEASE_SECONDS = 300.0  # a request not finished by then is returned to its queue
LINKGRAPH_RETRY_TIMES = 3  # a 429, a 503 or a network failure is fetched again this often
LINKGRAPH_RETRY_BACKOFF = 5.0  # seconds before a retry without Retry-After; doubles each time
LINKGRAPH_MAX_RETRY_AFTER = 600.0  # a longer Retry-After is clamped to this
LINKGRAPH_SLOW_SECONDS = 5.0  # a slower response stretches its host's delay to its latency
LINKGRAPH_PARK_AFTER = 5  # failures in a row after which a host is parked...
LINKGRAPH_PARK_SECONDS = 60.0  # ...this long, twice as long with each further failure
LINKGRAPH_DROP_AFTER = 10  # failures in a row after which a host's URLs are not fetched
LINKGRAPH_MAX_PAGES = 0  # 0 = no limit; pages fetched (or refused) in the whole job
LINKGRAPH_MAX_PAGES_PER_HOST = 0  # 0 = no limit; URLs queued per host
LINKGRAPH_MAX_DEPTH = 0  # 0 = no limit; link hops from a seed
LINKGRAPH_FOLLOW_LINKS = True  # False: fetch the seeds only (a re-crawl of known pages)
LINKGRAPH_SCOPE = "all"  # all | same-domain (as the linking page) | seed-domains
LINKGRAPH_SEED_DOMAINS: list[str] = []  # set from the seeds, for the seed-domains scope
LINKGRAPH_ALLOW_DOMAINS: list[str] = []  # follow only links into these domains (and subdomains)
LINKGRAPH_DENY_DOMAINS: list[str] = []  # never follow links into these
LINKGRAPH_MAX_URL_LENGTH = 2048  # longer URLs are recorded, not followed (traps)
LINKGRAPH_MAX_SEGMENT_REPEATS = 3  # a path segment repeated more often marks a trap
LINKGRAPH_ALLOW_PRIVATE = False  # fetch private, loopback and link-local addresses
LINKGRAPH_HOSTS_FILE = ""  # /etc/hosts-format file of names resolved for this crawl only
LINKGRAPH_HOSTS: dict[str, str] = {}  # more such names (a worker gets the job's from Redis)
LINKGRAPH_ROBOTS_TTL = 86400.0  # seconds a fetched robots.txt stays valid for every worker
LINKGRAPH_ROBOTS_MAX_REDIRECTS = 5  # RFC 9309 section 2.3.1.2
LINKGRAPH_ROBOTS_MAX_BYTES = 512 * 1024  # RFC 9309 section 2.5: parse at least 500 KiB
LINKGRAPH_BATCH_ROWS = 20000  # link rows per ClickHouse insert
LINKGRAPH_BATCH_SECONDS = 2.0  # ... or at least this often while pages arrive
LINKGRAPH_RETURN_LEASES_AT_START = True  # a single-process crawl owns its job's leases
LINKGRAPH_HANDOFF = False  # a worker of an embedded-index job: rows go to the coordinator
LINKGRAPH_WORKERS_WAIT = 120.0  # seconds the index owner waits at the end for other workers
LINKGRAPH_WARC_DIR = ""  # "" = no WARC archive; else write gzipped WARC files here
LINKGRAPH_PROGRESS_SECONDS = 5.0  # 0 = no progress lines

# -- Scrapy ---------------------------------------------------------------------------------------
USER_AGENT = USER_AGENT
ROBOTSTXT_OBEY = False  # our robots middleware implements RFC 9309 with shared state
SCHEDULER = "crawler.frontier.scheduler.FrontierScheduler"
DUPEFILTER_CLASS = "crawler.frontier.dupefilter.FingerprintDupeFilter"
SCHEDULER_QUEUE_CLASS = "crawler.frontier.queue.HostQueue"
SCHEDULER_PERSIST = True
REDIS_URL = ""  # set by the CLI: the embedded server's URL or --redis

# Politeness is the frontier's job (it holds across processes); Scrapy's own per-process slot
# delay would only add a second, unshared delay.
DOWNLOAD_DELAY = 0
CONCURRENT_REQUESTS = 64
CONCURRENT_REQUESTS_PER_DOMAIN = 64
# A per-IP limit for many hosts on one server (0 = off). Scrapy applies it within each worker
# process; the frontier's one-request-per-host rule is the one that holds across workers.
CONCURRENT_REQUESTS_PER_IP = 0
# The spider yields one item per response, and Scrapy starts this many tasks per response.
CONCURRENT_ITEMS = 1
DOWNLOAD_TIMEOUT = 30
DOWNLOAD_MAXSIZE = 16 * 1024 * 1024
DOWNLOAD_WARNSIZE = 0
TWISTED_DNS_RESOLVER = "crawler.resolver.GuardedResolver"
DNS_TIMEOUT = 15
COOKIES_ENABLED = False
TELNETCONSOLE_ENABLED = False
RETRY_ENABLED = False  # a failed fetch is recorded as such; the frontier decides about retries
REDIRECT_ENABLED = False  # a page's 3xx is a link; robots.txt redirects are followed by hand
METAREFRESH_ENABLED = False
HTTPERROR_ALLOW_ALL = True
LOG_INSTALL_ROOT_HANDLER = True
LOG_LEVEL = "INFO"
LOGSTATS_INTERVAL = 0

DOWNLOADER_MIDDLEWARES = {
    "crawler.middlewares.politeness.PolitenessMiddleware": 50,
    "crawler.middlewares.robots.RobotsMiddleware": 100,
    "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
    "scrapy.downloadermiddlewares.offsite.OffsiteMiddleware": None,
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    "scrapy.downloadermiddlewares.redirect.MetaRefreshMiddleware": None,
    "scrapy.downloadermiddlewares.redirect.RedirectMiddleware": None,
}
SPIDER_MIDDLEWARES = {
    "scrapy.spidermiddlewares.depth.DepthMiddleware": None,  # the frontier tracks depth
    "scrapy.spidermiddlewares.urllength.UrlLengthMiddleware": None,
}
ITEM_PIPELINES = {
    "pipelines.extraction.ExtractionPipeline": 100,
    "pipelines.frontier.FrontierPipeline": 200,
    "pipelines.warc.WarcPipeline": 300,
    "pipelines.clickhouse.ClickHousePipeline": 400,
}
EXTENSIONS = {
    "crawler.progress.Progress": 500,
}
