-- Change `backlinks_state`: keep the types of each pair's links in `types`, filled by backlinks_mv.

-- The view is dropped and created again with `types`; then every pair is aggregated once more
-- from `links`, which gives the pairs stored before this file their types and catches any link
-- inserted while the view was away. That re-aggregation changes nothing else: the state merges
-- min, max and union, so a pair seen again keeps its values. It reads all of `links` once.
-- A URL a sitemap lists is a `links` row of type `sitemap` (crawler/sitemaps.py), not a link
-- from a page to a page: it is no backlink.
ALTER TABLE backlinks_state
    ADD COLUMN IF NOT EXISTS types SimpleAggregateFunction(groupUniqArrayArray, Array(String))
    AFTER anchors;

DROP VIEW IF EXISTS backlinks_mv;

CREATE MATERIALIZED VIEW IF NOT EXISTS backlinks_mv TO backlinks_state AS
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
FROM links AS l
WHERE l.src_domain != l.dst_domain AND l.type != 'sitemap'
GROUP BY dst_domain, dst_host, dst_url, src_domain, src_host, src_url;

INSERT INTO backlinks_state (
    dst_domain, dst_host, dst_url, src_domain, src_host, src_url, anchors, types, follow,
    nofollow, ugc, sponsored, page_nofollow, first_seen, last_seen
)
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
FROM links AS l
WHERE l.src_domain != l.dst_domain AND l.type != 'sitemap'
GROUP BY dst_domain, dst_host, dst_url, src_domain, src_host, src_url;
