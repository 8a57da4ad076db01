-- Set by `bullseye_profile.rebuild`, cleared when the replay it asked for has reached the
-- end of RESOLVED as it was when the profile process started. While it is set, batches do
-- not refresh segment membership (a replay would re-announce entries already announced);
-- the transaction that clears it makes the membership sweep due, which reconciles once.
-- Durable, so a replay killed half-way still skips the refresh and still ends in a sweep.
CREATE TABLE profile_replay (
    id smallint PRIMARY KEY CHECK (id = 1),
    requested_at timestamptz NOT NULL DEFAULT now()
);
