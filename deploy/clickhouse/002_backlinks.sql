-- The inbound-link index: raw links -> materialized view -> aggregated state -> plain views.
-- Re-crawling a page adds link rows but never new backlinks: the state is keyed by the
-- (dst_url, src_url) pair and merges min/max/union, so every aggregate stays exact.

CREATE TABLE IF NOT EXISTS backlinks_state
(
    dst_domain    String,
    dst_host      String,
    dst_url       String,
    src_domain    String,
    src_host      String,
    src_url       String,
    anchors       SimpleAggregateFunction(groupUniqArrayArray, Array(String)),
    follow        SimpleAggregateFunction(max, UInt8),
    nofollow      SimpleAggregateFunction(max, UInt8),
    ugc           SimpleAggregateFunction(max, UInt8),
    sponsored     SimpleAggregateFunction(max, UInt8),
    page_nofollow SimpleAggregateFunction(max, UInt8),
    first_seen    SimpleAggregateFunction(min, DateTime64(3, 'UTC')),
    last_seen     SimpleAggregateFunction(max, DateTime64(3, 'UTC'))
)
ENGINE = AggregatingMergeTree
ORDER BY (dst_domain, dst_host, dst_url, src_domain, src_host, src_url);

-- Only cross-domain links are backlinks; links within a registered domain are internal.
CREATE MATERIALIZED VIEW IF NOT EXISTS backlinks_mv TO backlinks_state AS
SELECT
    dst_domain, dst_host, dst_url, src_domain, src_host, src_url,
    groupUniqArrayIf(l.anchor, l.anchor != '') AS anchors,
    max(l.nofollow = 0 AND l.ugc = 0 AND l.sponsored = 0 AND l.page_nofollow = 0) AS follow,
    max(l.nofollow) AS nofollow,
    max(l.ugc) AS ugc,
    max(l.sponsored) AS sponsored,
    max(l.page_nofollow) AS page_nofollow,
    min(l.fetched_at) AS first_seen,
    max(l.fetched_at) AS last_seen
FROM links AS l
WHERE l.src_domain != l.dst_domain
GROUP BY dst_domain, dst_host, dst_url, src_domain, src_host, src_url;

-- One row per distinct (src_url, dst_url) across registered domains. `anchor` is the smallest
-- non-empty anchor text of the pair (a stable pick), `anchors` all of them; `follow` is 1 when
-- at least one occurrence passes authority (no nofollow/ugc/sponsored, page not nofollow).
CREATE VIEW IF NOT EXISTS backlinks AS
SELECT
    dst_domain, dst_host, dst_url, src_domain, src_host, src_url,
    arraySort(groupUniqArrayArray(s.anchors)) AS anchors,
    if(empty(anchors), '', anchors[1]) AS anchor,
    max(s.follow) AS follow,
    max(s.nofollow) AS nofollow,
    max(s.ugc) AS ugc,
    max(s.sponsored) AS sponsored,
    max(s.page_nofollow) AS page_nofollow,
    min(s.first_seen) AS first_seen,
    max(s.last_seen) AS last_seen
FROM backlinks_state AS s
GROUP BY dst_domain, dst_host, dst_url, src_domain, src_host, src_url;

CREATE VIEW IF NOT EXISTS domain_inbound AS
SELECT
    dst_domain,
    uniqExact(src_domain) AS referring_domains,
    uniqExact(src_host) AS referring_hosts,
    count() AS backlinks,
    countIf(follow = 1) AS follow_backlinks,
    countIf(follow = 0) AS nofollow_backlinks,
    uniqExactIf(src_domain, follow = 1) AS follow_referring_domains,
    uniqExact(dst_url) AS linked_pages,
    min(first_seen) AS first_seen,
    max(last_seen) AS last_seen
FROM backlinks
GROUP BY dst_domain;

-- A backlink counts once under each distinct anchor text it was seen with.
CREATE VIEW IF NOT EXISTS anchors AS
SELECT
    dst_domain,
    anchor_text AS anchor,
    count() AS backlinks,
    uniqExact(src_domain) AS referring_domains,
    countIf(follow = 1) AS follow_backlinks
FROM backlinks
ARRAY JOIN anchors AS anchor_text
GROUP BY dst_domain, anchor_text;
