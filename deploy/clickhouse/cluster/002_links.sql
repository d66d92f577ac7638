-- Create `links`, the other raw fact: one row per link occurrence per fetch of its source page.

-- A page's links carry its fetch time, so (src_url, fetched_at) names the fetch they came from.
-- On a cluster: `links_local` on every node, replicated within its shard; `links` the Distributed
-- table, sharded by the target's domain, so one domain's backlinks live on one shard, with the
-- backlinks_state rows backlinks_mv makes of them.
CREATE TABLE IF NOT EXISTS links_local ON CLUSTER '{cluster}'
(
    job           LowCardinality(String),
    src_url       String,
    src_host      LowCardinality(String),
    src_domain    LowCardinality(String),
    dst_url       String,
    dst_host      String,
    dst_domain    String,
    anchor        String,
    tag           LowCardinality(String),   -- a, area, redirect
    nofollow      UInt8,
    ugc           UInt8,
    sponsored     UInt8,
    page_nofollow UInt8,
    fetched_at    DateTime64(3, 'UTC')
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/{database}/links_local', '{replica}')
ORDER BY (dst_domain, dst_host, dst_url, src_url);

CREATE TABLE IF NOT EXISTS links ON CLUSTER '{cluster}' AS links_local
ENGINE = Distributed('{cluster}', currentDatabase(), links_local, cityHash64(dst_domain));
