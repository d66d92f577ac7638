-- Change `links`: remember the last 1000 inserts, so a batch inserted again is stored once.

-- As 024 does for `pages`.
-- On a cluster the local table is replicated: its deduplication window is Keeper's,
-- replicated_deduplication_window, shared by the replicas of a shard, so a batch retried on
-- another replica is dropped too. The Distributed table passes each batch's token on to the
-- shard it writes (crawler/sinks.py inserts with distributed_foreground_insert).
ALTER TABLE links_local ON CLUSTER '{cluster}' MODIFY SETTING replicated_deduplication_window = 1000;
