-- Create `domain_rank`, the authority of each registered domain, written by `linkgraph rank`.

-- Replaced as a whole by each `linkgraph rank` run. Domains without a row (no followable
-- cross-domain link in or out) read as 0 through joins.
-- On a cluster: one copy on every node (one replication group across all shards, so the replica
-- name holds the shard), which the views join on whichever node a query reaches. `linkgraph rank`
-- replaces it with a table like it under a Keeper path of its own, .../domain_rank_<ms>
-- (crawler/cli/rank_store.py): this path holds the first generation only.
CREATE TABLE IF NOT EXISTS domain_rank ON CLUSTER '{cluster}'
(
    domain      String,
    pagerank    Float64,
    harmonic    Float64,
    authority   Float64,                 -- 0-100, log scale over the graph's pagerank range
    computed_at DateTime64(3, 'UTC')
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/all/{database}/domain_rank', '{shard}-{replica}')
ORDER BY domain;
