-- Create `tld_countries` and fill it: the country each country-code TLD belongs to.

-- Country-code TLDs: ISO 3166-1 alpha-2, plus uk and ac.
-- On a cluster: reference data, one copy on every node (one replication group across all shards).
CREATE TABLE IF NOT EXISTS tld_countries ON CLUSTER '{cluster}'
(
    tld          String,
    country_code String,
    country      String
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/all/{database}/tld_countries', '{shard}-{replica}')
ORDER BY tld;

-- Reference data: emptied first, so that running this file again never duplicates it. Both the
-- TRUNCATE and the INSERT replicate to every node. The rows are the single-node file's INSERT,
-- not a copy: the line below stands for it, and crawler/cluster_schema.py adds
-- `SETTINGS insert_deduplicate = 0` (after the TRUNCATE, Keeper still remembers the same block
-- from the first run and would drop it).
TRUNCATE TABLE tld_countries;

-- @single-node INSERT INTO tld_countries
