-- Change `backlinks`: show `types`, the sorted types of the pair's links (text, image, canonical...).

-- A pair linked by text on one fetch and by an image on another has both; `has(types, 'image')`
-- selects the pairs with an image link. The other columns are as 004 made them.
CREATE OR REPLACE VIEW backlinks AS
SELECT
    dst_domain, dst_host, dst_url, src_domain, src_host, src_url,
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
FROM backlinks_state AS s
GROUP BY dst_domain, dst_host, dst_url, src_domain, src_host, src_url;
