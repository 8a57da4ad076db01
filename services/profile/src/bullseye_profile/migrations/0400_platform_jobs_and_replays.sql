-- Scheduled work runs on the platform's jobs (scheduled_jobs, platform migration 0004): the
-- RFM schedule, the membership sweep and the recompute jobs keep their due times.
INSERT INTO scheduled_jobs (queue, key, due_at) SELECT 'rfm', 'scheduled', next_run_at FROM rfm_schedule;
INSERT INTO scheduled_jobs (queue, key, due_at)
    SELECT 'segment-sweep', 'scheduled', next_run_at FROM segment_sweep_schedule;
INSERT INTO scheduled_jobs (queue, key, due_at)
    SELECT 'segment-recompute', segment_id || '@' || version, queued_at FROM segment_recompute_jobs;
DROP TABLE rfm_schedule, segment_sweep_schedule, segment_recompute_jobs;

-- Replays are the platform's (projection_replays, platform migration 0005): one in progress
-- goes on as one, over every partition again (those replayed already end at once).
INSERT INTO projection_replays (projection) SELECT 'profile' FROM profile_replay;
DROP TABLE profile_replay, profile_replay_partitions;

-- A schema created empty (a new deployment, or a database lost) first restores the segment
-- definitions and memberships from their facts on PROFILE, then replays RESOLVED quietly;
-- the replay's end reconciles memberships once, so nothing already announced is announced
-- again (projections/segment_facts.py). On an existing schema neither is asked for.
INSERT INTO projection_replays (projection) SELECT 'profile-segments' WHERE NOT EXISTS (SELECT 1 FROM segments);
INSERT INTO projection_replays (projection)
    SELECT 'profile' WHERE NOT EXISTS (SELECT 1 FROM projection_positions WHERE projection = 'profile')
    ON CONFLICT DO NOTHING;
