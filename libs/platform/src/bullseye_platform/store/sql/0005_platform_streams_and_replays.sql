-- A projection may read several streams (recommendation: RESOLVED and CATALOG; campaign:
-- RESOLVED and PROFILE): positions and set-aside records are kept per (stream, partition).
-- Rows stored before have no stream (''); the runner of a one-stream projection adopts them
-- at its next start (projection.adopt_positions).
ALTER TABLE projection_positions ADD COLUMN stream text NOT NULL DEFAULT '';
ALTER TABLE projection_positions DROP CONSTRAINT projection_positions_pkey;
ALTER TABLE projection_positions ADD PRIMARY KEY (projection, stream, partition);
ALTER TABLE projection_dead_letters ADD COLUMN stream text NOT NULL DEFAULT '';
ALTER TABLE projection_dead_letters DROP CONSTRAINT projection_dead_letters_pkey;
ALTER TABLE projection_dead_letters ADD PRIMARY KEY (projection, stream, stream_seq);

-- Replays without side effects (replay.py). A row asks the projection's next start to replay
-- its streams quietly up to their ends at that start; the first start to see it lists every
-- partition of every worker in projection_replay_partitions (`listed`). Each worker deletes
-- its own partitions as they reach their ends; the transaction that deletes the last one
-- deletes the request and runs the projection's end of replay. Durable, so a replay killed
-- half-way is still quiet and still ends once.
CREATE TABLE projection_replays (
    projection text PRIMARY KEY,
    requested_at timestamptz NOT NULL DEFAULT now(),
    listed boolean NOT NULL DEFAULT false
);
CREATE TABLE projection_replay_partitions (
    projection text NOT NULL,
    stream text NOT NULL,
    partition integer NOT NULL,
    PRIMARY KEY (projection, stream, partition)
);
