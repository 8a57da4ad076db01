-- Durable scheduled jobs (bullseye_platform.jobs): one row per job, due at `due_at`, claimed
-- FOR UPDATE SKIP LOCKED by whichever worker of the schema gets there first, and deleted (or
-- moved to its next due time) in the transaction that did its work. (queue, key) is the job's
-- identity: the same cause schedules it once. Made for millions of timers: the claim reads
-- the (queue, due_at) index from its oldest entry, and a row is a few dozen bytes.
CREATE TABLE scheduled_jobs (
    queue text NOT NULL,
    key text NOT NULL,
    due_at timestamptz NOT NULL,
    payload bytea NOT NULL DEFAULT ''::bytea,
    -- Failed runs since the last success, and the last failure (retried after a backoff).
    attempts integer NOT NULL DEFAULT 0,
    last_error text,
    PRIMARY KEY (queue, key)
);
CREATE INDEX scheduled_jobs_due ON scheduled_jobs (queue, due_at);

-- Wake the lanes of the queues that got new or moved jobs, at commit: one notification per
-- queue and statement (PostgreSQL folds repeats within a transaction), on a channel per schema.
CREATE FUNCTION scheduled_jobs_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('bullseye_jobs:' || TG_TABLE_SCHEMA, q.queue) FROM (SELECT DISTINCT queue FROM changed) q;
    RETURN NULL;
END
$$;

CREATE TRIGGER scheduled_jobs_inserted AFTER INSERT ON scheduled_jobs
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION scheduled_jobs_notify();
CREATE TRIGGER scheduled_jobs_moved AFTER UPDATE ON scheduled_jobs
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION scheduled_jobs_notify();
