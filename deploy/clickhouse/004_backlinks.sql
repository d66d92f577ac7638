-- Create `backlinks`: one row per distinct (src_url, dst_url) pair across registered domains.

-- The view finishes the merge of `backlinks_state` at query time. `anchor` is the smallest
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
