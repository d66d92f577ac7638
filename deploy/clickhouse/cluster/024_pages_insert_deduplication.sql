-- Change `pages`: remember the last 1000 inserts, so a batch inserted again is stored once.

-- Each batch carries an insert_deduplication_token (crawler/sinks.py), the same through every
-- retry and every replay of the hand-off stream; MergeTree honours it only for tables that keep
-- a deduplication window. 1000 inserts cover the stream's backlog (at most 64 waiting batches
-- and 32 being read) many times over. An insert without a token is deduplicated by its data
-- within the window too: the writer always sends one, new for each batch.
-- On a cluster the local table is replicated: its deduplication window is Keeper's,
-- replicated_deduplication_window, shared by the replicas of a shard, so a batch retried on
-- another replica is dropped too. The Distributed table passes each batch's token on to the
-- shard it writes (crawler/sinks.py inserts with distributed_foreground_insert).
ALTER TABLE pages_local ON CLUSTER '{cluster}' MODIFY SETTING replicated_deduplication_window = 1000;
