-- The identity graph: persons, the identifiers that point at them, and which person each
-- event went to. A projection of EVENTS (plus manual merges and splits).

-- A person; `merged_into` points at the survivor when it was folded into another person
-- (always the final survivor: merges repoint earlier merges, so one hop suffices).
CREATE TABLE persons (
    person_id text PRIMARY KEY,
    created_seq bigint NOT NULL,
    created_at timestamptz NOT NULL,
    merged_into text NULL
);
CREATE INDEX persons_merged_into ON persons (merged_into) WHERE merged_into IS NOT NULL;

-- One row per identifier. `id_value` is the raw value for user_id, device_id and
-- anonymous_id and the keyed hash (hex HMAC) for email and phone. The vault joins on it:
-- subject "user:<id>" = (user_id, <id>), "anon:<id>" = (anonymous_id, <id>).
CREATE TABLE identifiers (
    id_type text NOT NULL CHECK (id_type IN ('user_id', 'email', 'phone', 'device_id', 'anonymous_id')),
    id_value text NOT NULL,
    person_id text NOT NULL,
    first_seen timestamptz NOT NULL,
    last_seen timestamptz NOT NULL,
    source text NOT NULL DEFAULT '',
    PRIMARY KEY (id_type, id_value)
);
CREATE INDEX identifiers_person ON identifiers (person_id);

-- Which person each event went to, and through which identifier (what a split moves).
-- Also the deduplication of event ids beyond JetStream's duplicate window.
CREATE TABLE resolutions (
    event_id text PRIMARY KEY,
    person_id text NOT NULL,
    events_seq bigint NOT NULL,
    primary_type text NOT NULL,
    primary_value text NOT NULL
);
CREATE INDEX resolutions_primary ON resolutions (primary_type, primary_value);

-- Merges, splits and refused links of each person, oldest first (by id).
CREATE TABLE history (
    id bigserial PRIMARY KEY,
    person_id text NOT NULL,
    kind text NOT NULL CHECK (kind IN ('merged', 'split', 'conflict')),
    other_person_id text NOT NULL DEFAULT '',
    survivor boolean NOT NULL DEFAULT false,
    reason text NOT NULL,
    rule text NOT NULL,
    cause_event_id text NOT NULL DEFAULT '',
    occurred_at timestamptz NOT NULL
);
CREATE INDEX history_person ON history (person_id, id);

-- The persons that a refused link showed using an identifier: more than
-- IDENTITY_MAX_PERSONS_PER_VALUE of them and the value is blocked.
CREATE TABLE value_claims (
    id_type text NOT NULL,
    id_value text NOT NULL,
    person_id text NOT NULL,
    PRIMARY KEY (id_type, id_value, person_id)
);

-- Values never used to link again (seen on too many persons).
CREATE TABLE blocked_values (
    id_type text NOT NULL,
    id_value text NOT NULL,
    persons int NOT NULL,
    cause_event_id text NOT NULL,
    PRIMARY KEY (id_type, id_value)
);
