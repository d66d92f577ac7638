-- Change `backlinks_state`: remember the last 1000 inserts, as `links` does (025).

-- A repeated insert into `links` still runs backlinks_mv; with a window of its own the state
-- table drops the view's repeated block too (deduplicate_blocks_in_dependent_materialized_views
-- is on by default). The aggregates were exact without it, since min, max and union merge a
-- repeated row away, but the repeated rows took space until a merge.
-- On a cluster the local table is replicated: its deduplication window is Keeper's,
-- replicated_deduplication_window, shared by the replicas of a shard, so a batch retried on
-- another replica is dropped too. The Distributed table passes each batch's token on to the
-- shard it writes (crawler/sinks.py inserts with distributed_foreground_insert).
ALTER TABLE backlinks_state_local ON CLUSTER '{cluster}' MODIFY SETTING replicated_deduplication_window = 1000;
