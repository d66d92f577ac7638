"""Scrapy settings of linkgraph: every LINKGRAPH_* setting and its default is listed here.

The per-job ones are the fields of the job spec (crawler/jobspec.py), which takes its defaults
from here. The CLI turns flags and `-s NAME=VALUE` into a job spec; `scrapy crawl links -s
NAME=VALUE` works as well.
"""

from __future__ import annotations

from crawler import USER_AGENT

BOT_NAME = "linkgraph"
SPIDER_MODULES = ["crawler.spiders"]
NEWSPIDER_MODULE = "crawler.spiders"

# -- linkgraph: per job ----------------------------------------------------------------------------
# Saved with the job (crawler/jobspec.py), so every worker crawls with the same values; a resume
# keeps them unless a flag names them again.
LINKGRAPH_JOB = "default"  # the crawl job: its frontier keys and its rows carry this name
LINKGRAPH_CLICKHOUSE_URL = ""  # "" = embedded chDB under the data dir; else http(s)://...
LINKGRAPH_DATABASE = "linkgraph"
LINKGRAPH_DELAY = 1.0  # seconds between two requests to one host, across all workers
LINKGRAPH_MAX_DELAY = 30.0  # a robots.txt Crawl-delay above this is clamped to it
LINKGRAPH_PRIORITY = "crawler.frontier.priority.by_depth"  # (url, depth) -> int, smaller first
LINKGRAPH_LEASE_SECONDS = 300.0  # a request not finished by then is returned to its queue
# (the last resort, for a hung worker: a dead one's requests return when its heartbeat
# lapses, after 15 s; a URL lost 3 times is poison, recorded and never fetched again)
LINKGRAPH_RETRY_TIMES = 3  # a 429, a 5xx or a network failure (DNS too) is fetched again this often
LINKGRAPH_RETRY_BACKOFF = 5.0  # seconds before a retry without Retry-After; doubles each time
LINKGRAPH_MAX_RETRY_AFTER = 600.0  # a longer (or invalid) Retry-After gets the default back-off
LINKGRAPH_SLOW_SECONDS = 5.0  # a slower response stretches its host's delay to its latency
LINKGRAPH_PARK_AFTER = 5  # failures in a row after which a host is parked...
LINKGRAPH_PARK_SECONDS = 60.0  # ...this long, twice as long with each further failure
LINKGRAPH_DROP_AFTER = 10  # failures in a row after which a host's URLs are not fetched
LINKGRAPH_MAX_PAGES = 0  # 0 = no limit; pages fetched (or refused) in the whole job
LINKGRAPH_MAX_PAGES_PER_HOST = 0  # 0 = no limit; URLs queued per host
# Partitions of the job's frontier, split by host, each in its own Redis Cluster hash slot: more
# spread one job over more Redis nodes. Fixed when the job is created (1 to 1024).
LINKGRAPH_FRONTIER_PARTITIONS = 1
# How the job tells the URLs it has seen, fixed when it is created (crawler/frontier/bloom.py):
# exact (a set of 8-byte fingerprints, 40-48 bytes per URL) | bloom (a Bloom filter sized for
# the capacity at the error rate: 1.2 bytes per URL at 1%, 1.8 at 0.1%). A false positive is a
# new URL taken for seen, never fetched; beyond the capacity the rate climbs.
LINKGRAPH_DEDUPE = "exact"
LINKGRAPH_BLOOM_CAPACITY = 1_000_000_000  # URLs the whole job is expected to see
LINKGRAPH_BLOOM_ERROR_RATE = 0.001  # false positives per new URL once the capacity is reached
# Link hops from a seed (a redirect is a hop); 0 = no limit. Bounds a trap (an endless
# calendar, a redirect loop) with the default, as Heritrix's maxHops of 20 does.
LINKGRAPH_MAX_DEPTH = 20
LINKGRAPH_FOLLOW_LINKS = True  # False: fetch the seeds only (a re-crawl of known pages)
LINKGRAPH_SCOPE = "all"  # all | same-domain (as the linking page) | seed-domains
LINKGRAPH_SEED_DOMAINS: list[str] = []  # set from the seeds, for the seed-domains scope
LINKGRAPH_ALLOW_DOMAINS: list[str] = []  # follow only links into these domains (and subdomains)
LINKGRAPH_DENY_DOMAINS: list[str] = []  # never follow links into these
LINKGRAPH_MAX_URL_LENGTH = 2048  # longer URLs are recorded, not followed (traps)
LINKGRAPH_MAX_SEGMENT_REPEATS = 3  # a path segment repeated more often marks a trap
LINKGRAPH_ALLOW_PRIVATE = False  # fetch private, loopback and link-local addresses
LINKGRAPH_HOSTS: dict[str, str] = {}  # names resolved for this crawl only (--hosts-file's)
LINKGRAPH_ROBOTS_TTL = 86400.0  # seconds a fetched robots.txt stays valid for every worker
LINKGRAPH_ROBOTS_MAX_REDIRECTS = 5  # RFC 9309 section 2.3.1.2
LINKGRAPH_ROBOTS_MAX_BYTES = 512 * 1024  # RFC 9309 section 2.5: parse at least 500 KiB

# link types queued (crawler/items.py LINK_TYPES); canonical, hreflang, frame, form: recorded only
LINKGRAPH_FOLLOW_LINK_TYPES = ["text", "image", "area", "redirect"]
# sitemaps read: robots (robots.txt Sitemap: lines) | all (and /sitemap.xml of each host) | none
LINKGRAPH_SITEMAPS = "robots"
LINKGRAPH_MAX_SITEMAPS_PER_HOST = 100  # sitemaps a host may register (ends endless indexes)
LINKGRAPH_SEED_SITEMAPS: list[str] = []  # sitemap URLs read first (--seed-sitemaps's)

# Bounds on one page: a hostile page costs no more than this.
# What a page loses to them is said in its pages.error; see README "Hostile pages".
LINKGRAPH_MAX_LINKS_RECORDED = 100_000  # links stored per page; the rest are counted, not read
LINKGRAPH_MAX_LINKS_FOLLOWED = 6000  # distinct in-scope URLs of a page queued (Heritrix: 6,000)
LINKGRAPH_MAX_LINK_URL_LENGTH = 8192  # a link to a longer URL is counted, not stored (nor cut)
LINKGRAPH_MAX_ANCHOR_LENGTH = 1024  # anchor texts and page titles are cut to this many characters
LINKGRAPH_MAX_HEADER_BYTES = 256 * 1024  # a response's status line and headers (Chromium: 256 KiB)
LINKGRAPH_MAX_NESTING = 512  # HTML nested deeper is parsed only up to there (Chromium: 512)
LINKGRAPH_PARSE_SECONDS = 10.0  # a page's link extraction stops after this long
LINKGRAPH_MAX_SITEMAP_URLS = 50_000  # URLs read from one sitemap file (the protocol's limit)
LINKGRAPH_MAX_SITEMAP_BYTES = 50 * 1024 * 1024  # a sitemap is read up to this size uncompressed

# Recurring re-crawls and alerts: `linkgraph serve` re-crawls the job on this schedule (as
# `linkgraph recrawl` does), then POSTs the watched domains' new and lost referring domains.
LINKGRAPH_RECRAWL_EVERY = 0.0  # seconds from the start of one crawl to the next; 0 = never
LINKGRAPH_WATCH_DOMAINS: list[str] = []  # registered domains whose referring domains are watched
LINKGRAPH_ALERT_WEBHOOK = ""  # "" = no alerts; else the http(s) URL their changes are POSTed to

# -- linkgraph: per process -----------------------------------------------------------------------
# Each process's own: set by its flags, never saved with the job.
LINKGRAPH_DATA_DIR = "linkgraph-data"  # embedded Redis and chDB files live here
# A Redis server unreachable for this many seconds ends the process (one line, exit 1); each
# call meanwhile waits for it, so an embedded server restarted after a crash is rejoined.
LINKGRAPH_REDIS_TIMEOUT = 60.0
# Frontier calls off the reactor (crawler/frontier/prefetch.py): requests are popped ahead into
# a small buffer (CONCURRENT_REQUESTS / 4, leased to this worker; what the engine does not take
# within a quarter of a lease, or at once when it pauses, goes back to the frontier); releases,
# seeds, links and marks are sent in order, pipelined with the next pop; robots.txt and sitemap
# look-ups wait in threads. False: each call blocks the reactor for a round trip, which costs
# most of a worker's throughput when Redis is far away (at 10 ms: 9-10% of it kept, against
# 80-89% with the thread).
LINKGRAPH_FRONTIER_THREAD = True
LINKGRAPH_SEEDS: list[str] = []  # canonical seed URLs, fed by the spider's start()
LINKGRAPH_HOSTS_FILE = ""  # /etc/hosts-format file read by this process (`scrapy crawl`)
LINKGRAPH_BATCH_ROWS = 20000  # link rows per ClickHouse insert
LINKGRAPH_BATCH_SECONDS = 2.0  # ... or at least this often while pages arrive
LINKGRAPH_RETURN_LEASES_AT_START = True  # a single-process crawl owns its job's leases
LINKGRAPH_HANDOFF = False  # a worker of an embedded-index job: rows go to the coordinator
LINKGRAPH_WORKERS_WAIT = 120.0  # seconds the index owner waits at the end for other workers
LINKGRAPH_WARC_DIR = ""  # "" = no WARC archive; else write gzipped WARC files here
LINKGRAPH_WARC_MAX_BYTES = 1 << 30  # a WARC file is closed (CDXJ beside it) before passing this
LINKGRAPH_WARC_GZIP_LEVEL = 3  # zlib level of records: 6 takes 2x the CPU for 13% fewer bytes
LINKGRAPH_WARC_METADATA = False  # also archive each page's outlinks as a `metadata` record
LINKGRAPH_WARC_OPERATOR = ""  # who runs the crawl (contact), in each file's warcinfo record
LINKGRAPH_PROGRESS_SECONDS = 5.0  # 0 = no progress lines
LINKGRAPH_QUEUE_CHUNK = 250  # URLs per frontier call: each Lua call holds Redis ~15 us per URL
# "" = no proxy, whatever http_proxy/https_proxy say; else http://[user:pass@]host:port for all.
# One with a password goes in $LINKGRAPH_PROXY (-s would save the password with the job).
LINKGRAPH_PROXY = ""
LINKGRAPH_SPOOL_DIR = ""  # rows wait here while the index is down; "" = <data dir>/spool
LINKGRAPH_SPOOL_MAX_BYTES = 1 << 30  # a spool this full stops fetching until the index is back
# `linkgraph serve`: its API's address; bound elsewhere than loopback, it needs a token
LINKGRAPH_SERVE_HOST = "127.0.0.1"
LINKGRAPH_SERVE_PORT = 8650

# -- Scrapy ---------------------------------------------------------------------------------------
USER_AGENT = USER_AGENT
ROBOTSTXT_OBEY = False  # our robots middleware implements RFC 9309 with shared state
# Its queue and dupefilter are the frontier's own, and a frontier outlives every crawl of its
# job: DUPEFILTER_CLASS, SCHEDULER_QUEUE_CLASS and SCHEDULER_PERSIST choose nothing here.
SCHEDULER = "crawler.frontier.scheduler.FrontierScheduler"
REDIS_URL = ""  # per process: the embedded server's URL or --redis

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
# Scrapy's HTTP/1.1 handler, with LINKGRAPH_MAX_HEADER_BYTES (crawler/downloader.py)
DOWNLOAD_HANDLERS = {
    "http": "crawler.downloader.BoundedHeadersDownloadHandler",
    "https": "crawler.downloader.BoundedHeadersDownloadHandler",
}
DOWNLOAD_WARNSIZE = 0
TWISTED_DNS_RESOLVER = "crawler.resolver.GuardedResolver"
DNS_TIMEOUT = 15
COOKIES_ENABLED = False
# Both would listen on localhost and run what they are sent.
TELNETCONSOLE_ENABLED = False
REMOTE_CONTROL_ENABLED = False
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
    "crawler.middlewares.addresses.AddressGuardMiddleware": 110,
    # before HttpProxyMiddleware (750), which then ignores the environment's proxies
    # between the download handler and HttpCompressionMiddleware (590): sees what was received
    "crawler.middlewares.capture.WarcCaptureMiddleware": 595,
    "crawler.middlewares.proxy.ProxyMiddleware": 740,
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
    "pipelines.sitemaps.SitemapPipeline": 150,  # a sitemap's URLs, read after extraction
    "pipelines.frontier.FrontierPipeline": 200,
    "pipelines.warc.WarcPipeline": 300,
    "pipelines.clickhouse.ClickHousePipeline": 400,
}
EXTENSIONS = {
    "crawler.progress.Progress": 500,
}
