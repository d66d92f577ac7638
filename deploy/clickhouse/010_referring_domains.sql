-- Create `referring_domains`: one row per (target domain, referring domain), with TLD and rank.

-- The public suffix is what follows the registered domain's first label (private suffixes
-- included: alice.github.io -> github.io); hosts without a registered domain (IP addresses,
-- single labels) have none. Institutional means .edu, .gov, edu.*, gov.* or ac.*
-- (example.ac.uk, example.edu.au).
CREATE VIEW IF NOT EXISTS referring_domains AS
SELECT
    g.dst_domain AS dst_domain,
    g.src_domain AS src_domain,
    g.backlinks AS backlinks,
    g.follow_backlinks AS follow_backlinks,
    g.nofollow_backlinks AS nofollow_backlinks,
    g.ugc_backlinks AS ugc_backlinks,
    g.sponsored_backlinks AS sponsored_backlinks,
    g.referring_pages AS referring_pages,
    g.linked_pages AS linked_pages,
    g.first_seen AS first_seen,
    g.last_seen AS last_seen,
    g.suffix AS suffix,
    g.tld AS tld,
    c.country_code AS country_code,
    c.country AS country,
    g.institutional AS institutional,
    r.authority AS authority,
    r.pagerank AS pagerank
FROM
(
    SELECT
        dst_domain,
        src_domain,
        count() AS backlinks,
        countIf(follow = 1) AS follow_backlinks,
        countIf(follow = 0) AS nofollow_backlinks,
        countIf(ugc = 1) AS ugc_backlinks,
        countIf(sponsored = 1) AS sponsored_backlinks,
        uniqExact(src_url) AS referring_pages,
        uniqExact(dst_url) AS linked_pages,
        min(first_seen) AS first_seen,
        max(last_seen) AS last_seen,
        if(isIPv4String(src_domain) OR startsWith(src_domain, '[') OR position(src_domain, '.') = 0,
           '', substring(src_domain, position(src_domain, '.') + 1)) AS suffix,
        if(suffix = '', '', splitByChar('.', suffix)[-1]) AS tld,
        toUInt8(suffix IN ('edu', 'gov') OR startsWith(suffix, 'edu.')
                OR startsWith(suffix, 'gov.') OR startsWith(suffix, 'ac.')) AS institutional
    FROM backlinks
    GROUP BY dst_domain, src_domain
) AS g
LEFT JOIN tld_countries AS c ON c.tld = g.tld
LEFT JOIN domain_rank AS r ON r.domain = g.src_domain;
