-- Create `outlinks`: the outbound cross-domain links of a source domain.

-- The backlinks index read from its source side.
CREATE VIEW IF NOT EXISTS outlinks AS
SELECT
    src_domain, src_host, src_url, dst_domain, dst_host, dst_url,
    anchor, anchors, follow, nofollow, ugc, sponsored, first_seen, last_seen
FROM backlinks;
