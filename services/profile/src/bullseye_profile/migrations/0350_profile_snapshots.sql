-- The stored base of each person's profile (snapshots.py): everything a fold of the journal
-- gives that does not move with the clock alone, serialized as a bullseye.profile.v1.Profile.
-- GetProfile finishes it as of the time asked for when computed_at <= that time < valid_until
-- (the next window edge or later-dated event); otherwise it folds the journal and stores a new
-- base. The projection bumps `generation` and clears `base` of every person a batch touches,
-- in the batch's transaction; a base is only stored if the generation it was read at holds.
CREATE TABLE profile_snapshots (
    person_id text PRIMARY KEY,
    generation bigint NOT NULL DEFAULT 0,
    base bytea,
    -- What the base was built with (snapshots.fingerprint: code version and policy): a base
    -- built by another version or with other thresholds is never used.
    fingerprint text,
    computed_at timestamptz,
    valid_until timestamptz
);
