-- Change `backlinks_state`: keep the types of each pair's links in `types`, filled by backlinks_mv.

-- The view is dropped and created again with `types`; then every pair is aggregated once more
-- from `links`, which gives the pairs stored before this file their types and catches any link
-- inserted while the view was away. That re-aggregation changes nothing else: the state merges
-- min, max and union, so a pair seen again keeps its values. It reads all of `links` once.
-- A URL a sitemap lists is a `links` row of type `sitemap` (crawler/sitemaps.py), not a link
-- from a page to a page: it is no backlink.
-- On a cluster there is no re-aggregation: `linkgraph migrate` applies the cluster schema whole
-- before any process writes (they refuse to start on an older schema), so `links` is empty here.
ALTER TABLE backlinks_state_local ON CLUSTER '{cluster}'
    ADD COLUMN IF NOT EXISTS types SimpleAggregateFunction(groupUniqArrayArray, Array(String))
    AFTER anchors;

ALTER TABLE backlinks_state ON CLUSTER '{cluster}'
    ADD COLUMN IF NOT EXISTS types SimpleAggregateFunction(groupUniqArrayArray, Array(String))
    AFTER anchors;

DROP VIEW IF EXISTS backlinks_mv ON CLUSTER '{cluster}';

CREATE MATERIALIZED VIEW IF NOT EXISTS backlinks_mv ON CLUSTER '{cluster}' TO backlinks_state_local AS
SELECT
    dst_domain, dst_host, dst_url, src_domain, src_host, src_url,
    groupUniqArrayIf(l.anchor, l.anchor != '') AS anchors,
    groupUniqArray(toString(l.type)) AS types,
    max(l.nofollow = 0 AND l.ugc = 0 AND l.sponsored = 0 AND l.page_nofollow = 0) AS follow,
    max(l.nofollow) AS nofollow,
    max(l.ugc) AS ugc,
    max(l.sponsored) AS sponsored,
    max(l.page_nofollow) AS page_nofollow,
    min(l.fetched_at) AS first_seen,
    max(l.fetched_at) AS last_seen
FROM links_local AS l
WHERE l.src_domain != l.dst_domain AND l.type != 'sitemap'
GROUP BY dst_domain, dst_host, dst_url, src_domain, src_host, src_url;
