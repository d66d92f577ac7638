-- Create `link_intersect`: domains linking to at least `min_count` competitors but not to `target`.

-- A parameterized view:
-- SELECT * FROM link_intersect(target = 'a.com', competitors = ['b.com', 'c.com'], min_count = 2)
CREATE VIEW IF NOT EXISTS link_intersect AS
SELECT
    src_domain,
    uniqExact(dst_domain) AS competitors_linked,
    arraySort(groupUniqArray(dst_domain)) AS competitors,
    count() AS backlinks,
    countIf(follow = 1) AS follow_backlinks
FROM backlinks
WHERE dst_domain IN {competitors:Array(String)}
  AND src_domain != {target:String}
  AND src_domain NOT IN (SELECT src_domain FROM backlinks_state WHERE dst_domain = {target:String})
GROUP BY src_domain
HAVING competitors_linked >= {min_count:UInt32};
