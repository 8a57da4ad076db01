-- The partitions of RESOLVED whose replay has not reached its end yet. Several profile
-- processes split the partitions; each deletes its own rows as they reach their targets, and
-- the one that deletes the last row (holding profile_replay's row lock, so two cannot both
-- miss each other) clears the marker and makes the sweep and RFM recompute due.
CREATE TABLE profile_replay_partitions (
    partition integer PRIMARY KEY
);
