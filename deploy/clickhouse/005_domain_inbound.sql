-- Create `domain_inbound`: one row per target domain with its inbound totals (`linkgraph top`).

-- Counted straight from backlinks_state: counting distinct (src_url, dst_url) pairs per target
-- domain instead of first grouping the pairs through `backlinks` halves the time of a ranking
-- over every domain. The numbers are the same: a pair is followed when any of its state rows
-- is, which is what uniqExactIf over the rows counts.
-- OR REPLACE rather than IF NOT EXISTS: a data directory created before the schema was split
-- into one file per object may hold the first definition of this view (through `backlinks`, from
-- the old 002_backlinks.sql) without the old 006_domain_inbound_direct.sql that replaced it;
-- there this file brings the view to its current definition (see crawler/schema.py, SQUASHED).
CREATE OR REPLACE VIEW domain_inbound AS
SELECT
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
FROM backlinks_state AS s
GROUP BY s.dst_domain;
