-- The current definition of every object in the index: SHOW CREATE after every file in
-- deploy/clickhouse/ ran on an empty database, with the files that made it so.
-- Generated, do not edit: python -m crawler.schema dump > deploy/clickhouse/schema.sql

-- crawler/schema.py: the schema files applied, by version and name
CREATE TABLE linkgraph.schema_migrations
(
    `version` UInt32,
    `name` String,
    `applied_at` DateTime DEFAULT now()
)
ENGINE = MergeTree
ORDER BY version
SETTINGS index_granularity = 8192;

-- 001_pages.sql: Create `pages`, the raw fact of the crawl: one row per fetch attempt.
-- 024_pages_insert_deduplication.sql: Change `pages`: remember the last 1000 inserts, so a batch inserted again is stored once.
-- 031_pages_warc.sql: Change `pages`: add `warc_file` and `warc_offset`, where each fetch's WARC record is.
CREATE TABLE linkgraph.pages
(
    `job` LowCardinality(String),
    `url` String,
    `host` LowCardinality(String),
    `domain` LowCardinality(String),
    `status` UInt16,
    `content_type` LowCardinality(String),
    `bytes` UInt32,
    `depth` UInt16,
    `fetched_at` DateTime64(3, 'UTC'),
    `title` String,
    `canonical` String,
    `noindex` UInt8,
    `nofollow` UInt8,
    `error` LowCardinality(String),
    `location` String,
    `links` UInt32,
    `warc_file` String DEFAULT '',
    `warc_offset` UInt64 DEFAULT 0
)
ENGINE = MergeTree
ORDER BY (domain, host, url, fetched_at)
SETTINGS index_granularity = 8192, non_replicated_deduplication_window = 1000;

-- 002_links.sql: Create `links`, the other raw fact: one row per link occurrence per fetch of its source page.
-- 025_links_insert_deduplication.sql: Change `links`: remember the last 1000 inserts, so a batch inserted again is stored once.
-- 028_links_type.sql: Change `links`: add `type`, what each link is (text, image, area, redirect, canonical, hreflang, frame, form).
CREATE TABLE linkgraph.links
(
    `job` LowCardinality(String),
    `src_url` String,
    `src_host` LowCardinality(String),
    `src_domain` LowCardinality(String),
    `dst_url` String,
    `dst_host` String,
    `dst_domain` String,
    `anchor` String,
    `tag` LowCardinality(String),
    `type` LowCardinality(String) DEFAULT if(tag = 'a', 'text', tag),
    `nofollow` UInt8,
    `ugc` UInt8,
    `sponsored` UInt8,
    `page_nofollow` UInt8,
    `fetched_at` DateTime64(3, 'UTC')
)
ENGINE = MergeTree
ORDER BY (dst_domain, dst_host, dst_url, src_url)
SETTINGS index_granularity = 8192, non_replicated_deduplication_window = 1000;

-- 003_backlinks_state.sql: Create `backlinks_state`, the inbound-link index, and `backlinks_mv`, which fills it from links.
-- 029_backlinks_state_types.sql: Change `backlinks_state`: keep the types of each pair's links in `types`, filled by backlinks_mv.
CREATE MATERIALIZED VIEW linkgraph.backlinks_mv TO linkgraph.backlinks_state
(
    `dst_domain` String,
    `dst_host` String,
    `dst_url` String,
    `src_domain` LowCardinality(String),
    `src_host` LowCardinality(String),
    `src_url` String,
    `anchors` Array(String),
    `types` Array(String),
    `follow` UInt8,
    `nofollow` UInt8,
    `ugc` UInt8,
    `sponsored` UInt8,
    `page_nofollow` UInt8,
    `first_seen` DateTime64(3, 'UTC'),
    `last_seen` DateTime64(3, 'UTC')
)
AS SELECT
    dst_domain,
    dst_host,
    dst_url,
    src_domain,
    src_host,
    src_url,
    groupUniqArrayIf(l.anchor, l.anchor != '') AS anchors,
    groupUniqArray(toString(l.type)) AS types,
    max((l.nofollow = 0) AND (l.ugc = 0) AND (l.sponsored = 0) AND (l.page_nofollow = 0)) AS follow,
    max(l.nofollow) AS nofollow,
    max(l.ugc) AS ugc,
    max(l.sponsored) AS sponsored,
    max(l.page_nofollow) AS page_nofollow,
    min(l.fetched_at) AS first_seen,
    max(l.fetched_at) AS last_seen
FROM linkgraph.links AS l
WHERE (l.src_domain != l.dst_domain) AND (l.type != 'sitemap')
GROUP BY
    dst_domain,
    dst_host,
    dst_url,
    src_domain,
    src_host,
    src_url;

-- 003_backlinks_state.sql: Create `backlinks_state`, the inbound-link index, and `backlinks_mv`, which fills it from links.
-- 026_backlinks_state_insert_deduplication.sql: Change `backlinks_state`: remember the last 1000 inserts, as `links` does (025).
-- 029_backlinks_state_types.sql: Change `backlinks_state`: keep the types of each pair's links in `types`, filled by backlinks_mv.
CREATE TABLE linkgraph.backlinks_state
(
    `dst_domain` String,
    `dst_host` String,
    `dst_url` String,
    `src_domain` String,
    `src_host` String,
    `src_url` String,
    `anchors` SimpleAggregateFunction(groupUniqArrayArray, Array(String)),
    `types` SimpleAggregateFunction(groupUniqArrayArray, Array(String)),
    `follow` SimpleAggregateFunction(max, UInt8),
    `nofollow` SimpleAggregateFunction(max, UInt8),
    `ugc` SimpleAggregateFunction(max, UInt8),
    `sponsored` SimpleAggregateFunction(max, UInt8),
    `page_nofollow` SimpleAggregateFunction(max, UInt8),
    `first_seen` SimpleAggregateFunction(min, DateTime64(3, 'UTC')),
    `last_seen` SimpleAggregateFunction(max, DateTime64(3, 'UTC'))
)
ENGINE = AggregatingMergeTree
ORDER BY (dst_domain, dst_host, dst_url, src_domain, src_host, src_url)
SETTINGS index_granularity = 8192, non_replicated_deduplication_window = 1000;

-- 004_backlinks.sql: Create `backlinks`: one row per distinct (src_url, dst_url) pair across registered domains.
-- 030_backlinks_types.sql: Change `backlinks`: show `types`, the sorted types of the pair's links (text, image, canonical...).
CREATE VIEW linkgraph.backlinks
(
    `dst_domain` String,
    `dst_host` String,
    `dst_url` String,
    `src_domain` String,
    `src_host` String,
    `src_url` String,
    `anchors` Array(String),
    `anchor` String,
    `types` Array(String),
    `follow` SimpleAggregateFunction(max, UInt8),
    `nofollow` SimpleAggregateFunction(max, UInt8),
    `ugc` SimpleAggregateFunction(max, UInt8),
    `sponsored` SimpleAggregateFunction(max, UInt8),
    `page_nofollow` SimpleAggregateFunction(max, UInt8),
    `first_seen` SimpleAggregateFunction(min, DateTime64(3, 'UTC')),
    `last_seen` SimpleAggregateFunction(max, DateTime64(3, 'UTC'))
)
AS SELECT
    dst_domain,
    dst_host,
    dst_url,
    src_domain,
    src_host,
    src_url,
    arraySort(groupUniqArrayArray(s.anchors)) AS anchors,
    if(empty(anchors), '', anchors[1]) AS anchor,
    arraySort(groupUniqArrayArray(s.types)) AS types,
    max(s.follow) AS follow,
    max(s.nofollow) AS nofollow,
    max(s.ugc) AS ugc,
    max(s.sponsored) AS sponsored,
    max(s.page_nofollow) AS page_nofollow,
    min(s.first_seen) AS first_seen,
    max(s.last_seen) AS last_seen
FROM linkgraph.backlinks_state AS s
GROUP BY
    dst_domain,
    dst_host,
    dst_url,
    src_domain,
    src_host,
    src_url;

-- 005_domain_inbound.sql: Create `domain_inbound`: one row per target domain with its inbound totals (`linkgraph top`).
CREATE VIEW linkgraph.domain_inbound
(
    `dst_domain` String,
    `referring_domains` UInt64,
    `referring_hosts` UInt64,
    `backlinks` UInt64,
    `follow_backlinks` UInt64,
    `nofollow_backlinks` Int64,
    `follow_referring_domains` UInt64,
    `linked_pages` UInt64,
    `first_seen` SimpleAggregateFunction(min, DateTime64(3, 'UTC')),
    `last_seen` SimpleAggregateFunction(max, DateTime64(3, 'UTC'))
)
AS SELECT
    s.dst_domain AS dst_domain,
    uniqExact(s.src_domain) AS referring_domains,
    uniqExact(s.src_host) AS referring_hosts,
    uniqExact(s.src_url, s.dst_url) AS backlinks,
    uniqExactIf((s.src_url, s.dst_url), s.follow = 1) AS follow_backlinks,
    backlinks - follow_backlinks AS nofollow_backlinks,
    uniqExactIf(s.src_domain, s.follow = 1) AS follow_referring_domains,
    uniqExact(s.dst_url) AS linked_pages,
    min(s.first_seen) AS first_seen,
    max(s.last_seen) AS last_seen
FROM linkgraph.backlinks_state AS s
GROUP BY s.dst_domain;

-- 006_anchors.sql: Create `anchors`: one row per (target domain, anchor text) with the backlinks that use it.
CREATE VIEW linkgraph.anchors
(
    `dst_domain` String,
    `anchor` String,
    `backlinks` UInt64,
    `referring_domains` UInt64,
    `follow_backlinks` UInt64
)
AS SELECT
    dst_domain,
    anchor_text AS anchor,
    count() AS backlinks,
    uniqExact(src_domain) AS referring_domains,
    countIf(follow = 1) AS follow_backlinks
FROM linkgraph.backlinks
ARRAY JOIN anchors AS anchor_text
GROUP BY
    dst_domain,
    anchor_text;

-- 007_domain_rank.sql: Create `domain_rank`, the authority of each registered domain, written by `linkgraph rank`.
CREATE TABLE linkgraph.domain_rank
(
    `domain` String,
    `pagerank` Float64,
    `harmonic` Float64,
    `authority` Float64,
    `computed_at` DateTime64(3, 'UTC')
)
ENGINE = MergeTree
ORDER BY domain
SETTINGS index_granularity = 8192;

-- 008_tld_countries.sql: Create `tld_countries` and fill it: the country each country-code TLD belongs to.
-- 251 rows of reference data
CREATE TABLE linkgraph.tld_countries
(
    `tld` String,
    `country_code` String,
    `country` String
)
ENGINE = MergeTree
ORDER BY tld
SETTINGS index_granularity = 8192;

-- 009_page_status.sql: Create `page_status`: the latest fetch of every URL the crawler recorded, and how many fetches.
CREATE VIEW linkgraph.page_status
(
    `url` String,
    `host` String,
    `domain` String,
    `status` UInt16,
    `error` String,
    `location` String,
    `noindex` UInt8,
    `fetched_at` DateTime64(3, 'UTC'),
    `fetches` UInt64
)
AS SELECT
    p.url AS url,
    any(p.host) AS host,
    any(p.domain) AS domain,
    argMax(p.status, p.fetched_at) AS status,
    argMax(p.error, p.fetched_at) AS error,
    argMax(p.location, p.fetched_at) AS location,
    argMax(p.noindex, p.fetched_at) AS noindex,
    max(p.fetched_at) AS fetched_at,
    count() AS fetches
FROM linkgraph.pages AS p
GROUP BY p.url;

-- 010_referring_domains.sql: Create `referring_domains`: one row per (target domain, referring domain), with TLD and rank.
CREATE VIEW linkgraph.referring_domains
(
    `dst_domain` String,
    `src_domain` String,
    `backlinks` UInt64,
    `follow_backlinks` UInt64,
    `nofollow_backlinks` UInt64,
    `ugc_backlinks` UInt64,
    `sponsored_backlinks` UInt64,
    `referring_pages` UInt64,
    `linked_pages` UInt64,
    `first_seen` SimpleAggregateFunction(min, DateTime64(3, 'UTC')),
    `last_seen` SimpleAggregateFunction(max, DateTime64(3, 'UTC')),
    `suffix` String,
    `tld` String,
    `country_code` String,
    `country` String,
    `institutional` UInt8,
    `authority` Float64,
    `pagerank` Float64
)
AS SELECT
    g.dst_domain AS dst_domain,
    g.src_domain AS src_domain,
    g.backlinks AS backlinks,
    g.follow_backlinks AS follow_backlinks,
    g.nofollow_backlinks AS nofollow_backlinks,
    g.ugc_backlinks AS ugc_backlinks,
    g.sponsored_backlinks AS sponsored_backlinks,
    g.referring_pages AS referring_pages,
    g.linked_pages AS linked_pages,
    g.first_seen AS first_seen,
    g.last_seen AS last_seen,
    g.suffix AS suffix,
    g.tld AS tld,
    c.country_code AS country_code,
    c.country AS country,
    g.institutional AS institutional,
    r.authority AS authority,
    r.pagerank AS pagerank
FROM
(
    SELECT
        dst_domain,
        src_domain,
        count() AS backlinks,
        countIf(follow = 1) AS follow_backlinks,
        countIf(follow = 0) AS nofollow_backlinks,
        countIf(ugc = 1) AS ugc_backlinks,
        countIf(sponsored = 1) AS sponsored_backlinks,
        uniqExact(src_url) AS referring_pages,
        uniqExact(dst_url) AS linked_pages,
        min(first_seen) AS first_seen,
        max(last_seen) AS last_seen,
        if(isIPv4String(src_domain) OR startsWith(src_domain, '[') OR (position(src_domain, '.') = 0), '', substring(src_domain, position(src_domain, '.') + 1)) AS suffix,
        if(suffix = '', '', splitByChar('.', suffix)[-1]) AS tld,
        toUInt8((suffix IN ('edu', 'gov')) OR startsWith(suffix, 'edu.') OR startsWith(suffix, 'gov.') OR startsWith(suffix, 'ac.')) AS institutional
    FROM linkgraph.backlinks
    GROUP BY
        dst_domain,
        src_domain
) AS g
LEFT JOIN linkgraph.tld_countries AS c ON c.tld = g.tld
LEFT JOIN linkgraph.domain_rank AS r ON r.domain = g.src_domain;

-- 011_refdomains_by_tld.sql: Create `refdomains_by_tld`: a target's referring domains grouped by TLD (`linkgraph tlds`).
CREATE VIEW linkgraph.refdomains_by_tld
(
    `dst_domain` String,
    `tld` String,
    `country_code` String,
    `country` String,
    `referring_domains` UInt64,
    `backlinks` UInt64,
    `institutional_referring_domains` UInt64
)
AS SELECT
    dst_domain,
    tld,
    country_code,
    country,
    count() AS referring_domains,
    sum(backlinks) AS backlinks,
    countIf(institutional = 1) AS institutional_referring_domains
FROM linkgraph.referring_domains
GROUP BY
    dst_domain,
    tld,
    country_code,
    country;

-- 012_refdomains_by_suffix.sql: Create `refdomains_by_suffix`: a target's referring domains grouped by public suffix.
CREATE VIEW linkgraph.refdomains_by_suffix
(
    `dst_domain` String,
    `suffix` String,
    `tld` String,
    `country_code` String,
    `country` String,
    `institutional` UInt8,
    `referring_domains` UInt64,
    `backlinks` UInt64
)
AS SELECT
    dst_domain,
    suffix,
    tld,
    country_code,
    country,
    institutional,
    count() AS referring_domains,
    sum(backlinks) AS backlinks
FROM linkgraph.referring_domains
GROUP BY
    dst_domain,
    suffix,
    tld,
    country_code,
    country,
    institutional;

-- 013_domain_profile.sql: Create `domain_profile`: the summary of a target domain's backlink profile, with its authority.
CREATE VIEW linkgraph.domain_profile
(
    `domain` String,
    `backlinks` UInt64,
    `follow_backlinks` UInt64,
    `nofollow_backlinks` UInt64,
    `ugc_backlinks` UInt64,
    `sponsored_backlinks` UInt64,
    `follow_ratio` Float64,
    `referring_domains` UInt64,
    `follow_referring_domains` UInt64,
    `referring_hosts` UInt64,
    `referring_pages` UInt64,
    `linked_pages` UInt64,
    `institutional_referring_domains` UInt64,
    `institutional_share` Float64,
    `first_seen` SimpleAggregateFunction(min, DateTime64(3, 'UTC')),
    `last_seen` SimpleAggregateFunction(max, DateTime64(3, 'UTC')),
    `authority` Float64,
    `pagerank` Float64,
    `harmonic` Float64
)
AS SELECT
    b.dst_domain AS domain,
    b.backlinks AS backlinks,
    b.follow_backlinks AS follow_backlinks,
    b.nofollow_backlinks AS nofollow_backlinks,
    b.ugc_backlinks AS ugc_backlinks,
    b.sponsored_backlinks AS sponsored_backlinks,
    b.follow_backlinks / b.backlinks AS follow_ratio,
    b.referring_domains AS referring_domains,
    b.follow_referring_domains AS follow_referring_domains,
    b.referring_hosts AS referring_hosts,
    b.referring_pages AS referring_pages,
    b.linked_pages AS linked_pages,
    i.institutional_referring_domains AS institutional_referring_domains,
    i.institutional_referring_domains / b.referring_domains AS institutional_share,
    b.first_seen AS first_seen,
    b.last_seen AS last_seen,
    r.authority AS authority,
    r.pagerank AS pagerank,
    r.harmonic AS harmonic
FROM
(
    SELECT
        dst_domain,
        count() AS backlinks,
        countIf(follow = 1) AS follow_backlinks,
        countIf(follow = 0) AS nofollow_backlinks,
        countIf(ugc = 1) AS ugc_backlinks,
        countIf(sponsored = 1) AS sponsored_backlinks,
        uniqExact(src_domain) AS referring_domains,
        uniqExactIf(src_domain, follow = 1) AS follow_referring_domains,
        uniqExact(src_host) AS referring_hosts,
        uniqExact(src_url) AS referring_pages,
        uniqExact(dst_url) AS linked_pages,
        min(first_seen) AS first_seen,
        max(last_seen) AS last_seen
    FROM linkgraph.backlinks
    GROUP BY dst_domain
) AS b
INNER JOIN
(
    SELECT
        dst_domain,
        countIf(institutional = 1) AS institutional_referring_domains
    FROM linkgraph.referring_domains
    GROUP BY dst_domain
) AS i ON i.dst_domain = b.dst_domain
LEFT JOIN linkgraph.domain_rank AS r ON r.domain = b.dst_domain;

-- 014_top_pages.sql: Create `top_pages`: the pages of a target domain by the backlinks they receive ("best by links").
CREATE VIEW linkgraph.top_pages
(
    `dst_domain` String,
    `dst_host` String,
    `dst_url` String,
    `backlinks` UInt64,
    `referring_domains` UInt64,
    `follow_backlinks` UInt64,
    `first_seen` SimpleAggregateFunction(min, DateTime64(3, 'UTC')),
    `last_seen` SimpleAggregateFunction(max, DateTime64(3, 'UTC'))
)
AS SELECT
    dst_domain,
    dst_host,
    dst_url,
    count() AS backlinks,
    uniqExact(src_domain) AS referring_domains,
    countIf(follow = 1) AS follow_backlinks,
    min(first_seen) AS first_seen,
    max(last_seen) AS last_seen
FROM linkgraph.backlinks
GROUP BY
    dst_domain,
    dst_host,
    dst_url;

-- 015_outlinks.sql: Create `outlinks`: the outbound cross-domain links of a source domain.
CREATE VIEW linkgraph.outlinks
(
    `src_domain` String,
    `src_host` String,
    `src_url` String,
    `dst_domain` String,
    `dst_host` String,
    `dst_url` String,
    `anchor` String,
    `anchors` Array(String),
    `follow` SimpleAggregateFunction(max, UInt8),
    `nofollow` SimpleAggregateFunction(max, UInt8),
    `ugc` SimpleAggregateFunction(max, UInt8),
    `sponsored` SimpleAggregateFunction(max, UInt8),
    `first_seen` SimpleAggregateFunction(min, DateTime64(3, 'UTC')),
    `last_seen` SimpleAggregateFunction(max, DateTime64(3, 'UTC'))
)
AS SELECT
    src_domain,
    src_host,
    src_url,
    dst_domain,
    dst_host,
    dst_url,
    anchor,
    anchors,
    follow,
    nofollow,
    ugc,
    sponsored,
    first_seen,
    last_seen
FROM linkgraph.backlinks;

-- 016_linked_domains.sql: Create `linked_domains`: one row per (source domain, linked domain).
CREATE VIEW linkgraph.linked_domains
(
    `src_domain` String,
    `dst_domain` String,
    `links` UInt64,
    `follow_links` UInt64,
    `linking_pages` UInt64,
    `linked_pages` UInt64,
    `first_seen` SimpleAggregateFunction(min, DateTime64(3, 'UTC')),
    `last_seen` SimpleAggregateFunction(max, DateTime64(3, 'UTC'))
)
AS SELECT
    src_domain,
    dst_domain,
    count() AS links,
    countIf(follow = 1) AS follow_links,
    uniqExact(src_url) AS linking_pages,
    uniqExact(dst_url) AS linked_pages,
    min(first_seen) AS first_seen,
    max(last_seen) AS last_seen
FROM linkgraph.backlinks
GROUP BY
    src_domain,
    dst_domain;

-- 017_broken_backlinks.sql: Create `broken_backlinks`: backlinks whose target's latest fetch failed.
-- 027_broken_backlinks_state.sql: Change `broken_backlinks`: say whether each broken target is gone or unreachable.
CREATE VIEW linkgraph.broken_backlinks
(
    `dst_domain` String,
    `dst_host` String,
    `dst_url` String,
    `src_domain` String,
    `src_host` String,
    `src_url` String,
    `anchor` String,
    `follow` SimpleAggregateFunction(max, UInt8),
    `first_seen` SimpleAggregateFunction(min, DateTime64(3, 'UTC')),
    `last_seen` SimpleAggregateFunction(max, DateTime64(3, 'UTC')),
    `status` UInt16,
    `error` String,
    `checked_at` DateTime64(3, 'UTC'),
    `state` String
)
AS SELECT
    b.dst_domain AS dst_domain,
    b.dst_host AS dst_host,
    b.dst_url AS dst_url,
    b.src_domain AS src_domain,
    b.src_host AS src_host,
    b.src_url AS src_url,
    b.anchor AS anchor,
    b.follow AS follow,
    b.first_seen AS first_seen,
    b.last_seen AS last_seen,
    p.status AS status,
    p.error AS error,
    p.fetched_at AS checked_at,
    multiIf((p.status IN (404, 410)) OR (p.error IN ('dns: no such name', 'robots: dns: no such name')), 'gone', (p.status >= 500) OR (p.status IN (408, 429)) OR ((p.status = 0) AND (NOT startsWith(p.error, 'invalid response')) AND (NOT startsWith(p.error, 'robots: invalid response'))), 'unreachable', 'error') AS state
FROM linkgraph.backlinks AS b
INNER JOIN
(
    SELECT
        url,
        status,
        error,
        fetched_at
    FROM linkgraph.page_status
    WHERE (status >= 400) OR ((status = 0) AND (error NOT IN ('', 'robots')) AND (NOT startsWith(error, 'robots: HTTP ')) AND (NOT startsWith(error, 'refused')) AND (NOT startsWith(error, 'ignored')))
) AS p ON p.url = b.dst_url;

-- 018_link_intersect.sql: Create `link_intersect`: domains linking to at least `min_count` competitors but not to `target`.
CREATE VIEW linkgraph.link_intersect
AS SELECT
    src_domain,
    uniqExact(dst_domain) AS competitors_linked,
    arraySort(groupUniqArray(dst_domain)) AS competitors,
    count() AS backlinks,
    countIf(follow = 1) AS follow_backlinks
FROM linkgraph.backlinks
WHERE (dst_domain IN ({competitors:Array(String)})) AND (src_domain != {target:String}) AND (src_domain NOT IN (
    SELECT src_domain
    FROM linkgraph.backlinks_state
    WHERE dst_domain = {target:String}
))
GROUP BY src_domain
HAVING competitors_linked >= {min_count:UInt32};

-- 019_domain_graph.sql: Create `domain_graph`, the graph `linkgraph rank` computes authority on.
CREATE VIEW linkgraph.domain_graph
(
    `src_domain` String,
    `dst_domain` String
)
AS SELECT
    s.src_domain AS src_domain,
    s.dst_domain AS dst_domain
FROM linkgraph.backlinks_state AS s
WHERE (s.follow = 1) AND (s.src_domain != '') AND (s.dst_domain != '')
GROUP BY
    s.src_domain,
    s.dst_domain;

-- 020_page_fetches.sql: Create `page_fetches`: every fetch of a page with the fetch before it, for link history.
CREATE VIEW linkgraph.page_fetches
(
    `job` LowCardinality(String),
    `url` String,
    `host` LowCardinality(String),
    `domain` LowCardinality(String),
    `fetched_at` DateTime64(3, 'UTC'),
    `status` UInt16,
    `noindex` UInt8,
    `error` LowCardinality(String),
    `location` String,
    `prev_job` LowCardinality(String),
    `prev_fetched_at` DateTime64(3, 'UTC'),
    `prev_status` UInt16,
    `prev_noindex` UInt8
)
AS SELECT
    f.job AS job,
    f.url AS url,
    f.host AS host,
    f.domain AS domain,
    f.fetched_at AS fetched_at,
    f.status AS status,
    f.noindex AS noindex,
    f.error AS error,
    f.location AS location,
    p.job AS prev_job,
    p.fetched_at AS prev_fetched_at,
    p.status AS prev_status,
    p.noindex AS prev_noindex
FROM linkgraph.pages AS f
ASOF LEFT JOIN linkgraph.pages AS p ON (p.url = f.url) AND (f.fetched_at > p.fetched_at);

-- 021_live_links.sql: Create `live_links`: the distinct links of each fetch that counts, for link history.
CREATE VIEW linkgraph.live_links
(
    `src_domain` LowCardinality(String),
    `src_host` LowCardinality(String),
    `src_url` String,
    `fetched_at` DateTime64(3, 'UTC'),
    `dst_domain` String,
    `dst_host` String,
    `dst_url` String,
    `job` String,
    `anchors` Array(String),
    `anchor` String,
    `follow` UInt8
)
AS SELECT
    l.src_domain AS src_domain,
    l.src_host AS src_host,
    l.src_url AS src_url,
    l.fetched_at AS fetched_at,
    l.dst_domain AS dst_domain,
    l.dst_host AS dst_host,
    l.dst_url AS dst_url,
    any(l.job) AS job,
    arraySort(groupUniqArrayIf(l.anchor, l.anchor != '')) AS anchors,
    if(empty(anchors), '', anchors[1]) AS anchor,
    max((l.nofollow = 0) AND (l.ugc = 0) AND (l.sponsored = 0) AND (l.page_nofollow = 0)) AS follow
FROM linkgraph.links AS l
WHERE (l.src_url, l.fetched_at) NOT IN (
    SELECT
        url,
        fetched_at
    FROM linkgraph.pages
    WHERE noindex = 1
)
GROUP BY
    l.src_domain,
    l.src_host,
    l.src_url,
    l.fetched_at,
    l.dst_domain,
    l.dst_host,
    l.dst_url;

-- 022_new_links.sql: Create `new_links`: links a fetch has and the page's previous fetch had not.
CREATE VIEW linkgraph.new_links
(
    `dst_domain` String,
    `dst_host` String,
    `dst_url` String,
    `src_domain` LowCardinality(String),
    `src_host` LowCardinality(String),
    `src_url` String,
    `anchor` String,
    `anchors` Array(String),
    `follow` UInt8,
    `seen_at` DateTime64(3, 'UTC'),
    `job` LowCardinality(String),
    `prev_fetched_at` DateTime64(3, 'UTC')
)
AS SELECT
    c.dst_domain AS dst_domain,
    c.dst_host AS dst_host,
    c.dst_url AS dst_url,
    c.src_domain AS src_domain,
    c.src_host AS src_host,
    c.src_url AS src_url,
    c.anchor AS anchor,
    c.anchors AS anchors,
    c.follow AS follow,
    c.fetched_at AS seen_at,
    f.job AS job,
    f.prev_fetched_at AS prev_fetched_at
FROM linkgraph.live_links AS c
INNER JOIN linkgraph.page_fetches AS f ON (f.url = c.src_url) AND (f.fetched_at = c.fetched_at)
ANTI LEFT JOIN linkgraph.live_links AS p ON (p.src_url = c.src_url) AND (p.fetched_at = f.prev_fetched_at) AND (p.dst_url = c.dst_url);

-- 023_lost_links.sql: Create `lost_links`: links a page's previous fetch had and its next fetch has not, with why.
CREATE VIEW linkgraph.lost_links
(
    `dst_domain` String,
    `dst_host` String,
    `dst_url` String,
    `src_domain` LowCardinality(String),
    `src_host` LowCardinality(String),
    `src_url` String,
    `anchor` String,
    `anchors` Array(String),
    `follow` UInt8,
    `last_seen` DateTime64(3, 'UTC'),
    `lost_at` DateTime64(3, 'UTC'),
    `job` LowCardinality(String),
    `reason` String,
    `detail` String
)
AS SELECT
    p.dst_domain AS dst_domain,
    p.dst_host AS dst_host,
    p.dst_url AS dst_url,
    p.src_domain AS src_domain,
    p.src_host AS src_host,
    p.src_url AS src_url,
    p.anchor AS anchor,
    p.anchors AS anchors,
    p.follow AS follow,
    p.fetched_at AS last_seen,
    f.fetched_at AS lost_at,
    f.job AS job,
    multiIf(f.status = 404, 'page_404', f.status = 410, 'page_410', (f.status >= 300) AND (f.status < 400), 'page_redirects', (f.status = 0) OR (f.status >= 400), 'fetch_failed', f.noindex = 1, 'page_noindex', 'link_removed') AS reason,
    multiIf(f.status = 0, f.error, (f.status >= 300) AND (f.status < 400), f.location, f.status >= 400, concat('HTTP ', toString(f.status)), '') AS detail
FROM linkgraph.live_links AS p
INNER JOIN linkgraph.page_fetches AS f ON (f.url = p.src_url) AND (f.prev_fetched_at = p.fetched_at)
ANTI LEFT JOIN linkgraph.live_links AS c ON (c.src_url = p.src_url) AND (c.fetched_at = f.fetched_at) AND (c.dst_url = p.dst_url);

-- 032_refdomain_changes.sql: Create `refdomain_changes`: the referring domains each job gained (new) and lost for a domain.
CREATE VIEW linkgraph.refdomain_changes
(
    `job` LowCardinality(String),
    `change` String,
    `at` DateTime64(3, 'UTC'),
    `dst_domain` String,
    `src_domain` LowCardinality(String),
    `backlinks` Int64,
    `reasons` Array(String)
)
AS WITH
    link_deltas AS
    (
        SELECT
            job,
            dst_domain,
            src_domain,
            seen_at AS at,
            1 AS delta,
            '' AS reason
        FROM linkgraph.new_links
        WHERE src_domain != dst_domain
        UNION ALL
        SELECT
            job,
            dst_domain,
            src_domain,
            lost_at AS at,
            -1 AS delta,
            reason
        FROM linkgraph.lost_links
        WHERE src_domain != dst_domain
    )
SELECT
    job,
    if(before > 0, 'lost', 'new') AS change,
    if(before > 0, last_at, first_at) AS at,
    dst_domain,
    src_domain,
    if(before > 0, before, before + net) AS backlinks,
    if(before > 0, reasons, []) AS reasons
FROM
(
    SELECT
        x.job AS job,
        x.dst_domain AS dst_domain,
        x.src_domain AS src_domain,
        any(x.first_at) AS first_at,
        any(x.last_at) AS last_at,
        any(x.net) AS net,
        any(x.reasons) AS reasons,
        sumIf(e.delta, e.at < x.first_at) AS before
    FROM
    (
        SELECT
            job,
            dst_domain,
            src_domain,
            min(at) AS first_at,
            max(at) AS last_at,
            sum(delta) AS net,
            arraySort(groupUniqArrayIf(reason, delta < 0)) AS reasons
        FROM link_deltas
        GROUP BY
            job,
            dst_domain,
            src_domain
    ) AS x
    INNER JOIN link_deltas AS e ON (e.dst_domain = x.dst_domain) AND (e.src_domain = x.src_domain)
    GROUP BY
        x.job,
        x.dst_domain,
        x.src_domain
)
WHERE (before > 0) != ((before + net) > 0);
