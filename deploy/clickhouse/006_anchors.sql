-- Create `anchors`: one row per (target domain, anchor text) with the backlinks that use it.

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
