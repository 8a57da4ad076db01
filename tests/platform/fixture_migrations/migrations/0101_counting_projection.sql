-- The tables of the test projection. `applied` has no unique key on purpose: a record
-- applied twice shows up as two rows, and `totals.n` is bumped (not set) once per record,
-- so only an exactly-once runner leaves count(*) per msg_id = 1 and n = number of records.
CREATE TABLE applied (
    seq bigint NOT NULL,
    msg_id text NOT NULL
);

CREATE TABLE totals (
    id int PRIMARY KEY,
    n bigint NOT NULL
);
