-- Create `backlinks_state`, the inbound-link index, and `backlinks_mv`, which fills it from links.

-- Re-crawling a page adds link rows but never new backlinks: the state is keyed by the
-- (dst_url, src_url) pair and merges min/max/union, so every aggregate stays exact.
-- On a cluster the view runs on each node on the blocks inserted into its `links_local`, and
-- writes to that node's `backlinks_state_local`: both are sharded by cityHash64(dst_domain), so a
-- link's state row lands on the shard that holds the link. `backlinks_state` reads them all.
CREATE TABLE IF NOT EXISTS backlinks_state_local ON CLUSTER '{cluster}'
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
ENGINE = ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/{database}/backlinks_state_local', '{replica}')
ORDER BY (dst_domain, dst_host, dst_url, src_domain, src_host, src_url);

CREATE TABLE IF NOT EXISTS backlinks_state ON CLUSTER '{cluster}' AS backlinks_state_local
ENGINE = Distributed('{cluster}', currentDatabase(), backlinks_state_local, cityHash64(dst_domain));

-- Only cross-domain links are backlinks; links within a registered domain are internal.
CREATE MATERIALIZED VIEW IF NOT EXISTS backlinks_mv ON CLUSTER '{cluster}' TO backlinks_state_local AS
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
FROM links_local AS l
WHERE l.src_domain != l.dst_domain
GROUP BY dst_domain, dst_host, dst_url, src_domain, src_host, src_url;
