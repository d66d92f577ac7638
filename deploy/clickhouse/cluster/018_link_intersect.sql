-- Create `link_intersect`: domains linking to at least `min_count` competitors but not to `target`.

-- A parameterized view:
-- SELECT * FROM link_intersect(target = 'a.com', competitors = ['b.com', 'c.com'], min_count = 2)
-- On a cluster the target's referring domains are read once, on the node the query reached, and
-- go with the query to the shards (GLOBAL) should the filter be pushed down to them, where a
-- plain IN over a Distributed table fails (Code 288). Planned today, the filter stays on that node.
CREATE VIEW IF NOT EXISTS link_intersect ON CLUSTER '{cluster}' AS
SELECT
    src_domain,
    uniqExact(dst_domain) AS competitors_linked,
    arraySort(groupUniqArray(dst_domain)) AS competitors,
    count() AS backlinks,
    countIf(follow = 1) AS follow_backlinks
FROM backlinks
WHERE dst_domain IN {competitors:Array(String)}
  AND src_domain != {target:String}
  AND src_domain GLOBAL NOT IN (SELECT src_domain FROM backlinks_state WHERE dst_domain = {target:String})
GROUP BY src_domain
HAVING competitors_linked >= {min_count:UInt32};
