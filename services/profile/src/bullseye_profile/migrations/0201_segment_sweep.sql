-- The durable schedule of the membership sweep. Profiles are computed as of "now" (windows
-- slide, recency grows), so membership can change with no new event: "added to cart in the
-- last day" ends a day later. A worker claims this row FOR UPDATE SKIP LOCKED when it is due
-- and queues a recompute of every live segment; a restart never forgets a sweep.
CREATE TABLE segment_sweep_schedule (
    id smallint PRIMARY KEY CHECK (id = 1),
    next_run_at timestamptz NOT NULL
);
INSERT INTO segment_sweep_schedule (id, next_run_at) VALUES (1, '-infinity');
