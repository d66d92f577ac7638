-- Create `domain_graph`, the graph `linkgraph rank` computes authority on.

-- One row per distinct (src_domain -> dst_domain) pair of registered domains with at least one
-- followable cross-domain link. A pair is followable when any of its occurrences is
-- (backlinks_state rows carry `follow`).
CREATE VIEW IF NOT EXISTS domain_graph AS
SELECT s.src_domain AS src_domain, s.dst_domain AS dst_domain
FROM backlinks_state AS s
WHERE s.follow = 1 AND s.src_domain != '' AND s.dst_domain != ''
GROUP BY s.src_domain, s.dst_domain;
