-- Create `refdomains_by_tld`: a target's referring domains grouped by TLD (`linkgraph tlds`).

-- country is '' for generic TLDs.
CREATE VIEW IF NOT EXISTS refdomains_by_tld AS
SELECT
    dst_domain,
    tld,
    country_code,
    country,
    count() AS referring_domains,
    sum(backlinks) AS backlinks,
    countIf(institutional = 1) AS institutional_referring_domains
FROM referring_domains
GROUP BY dst_domain, tld, country_code, country;
