-- What campaign folds from RESOLVED and PROFILE (projections/): its own view of consent, time
-- zones and segment membership, so the checks made at the last moment read its own tables in
-- the transaction that records the send (it may not read profile's).

-- Merged persons and whom they are now (bullseye_platform.persons).
CREATE TABLE person_aliases (
    person_id text PRIMARY KEY,
    survivor_id text NOT NULL
);
CREATE INDEX person_aliases_survivor ON person_aliases (survivor_id);

-- Every ConsentChanged statement, kept per event so that merges and splits move exactly what
-- they move; the state is folded at send time (bullseye_platform.consent).
CREATE TABLE consent_statements (
    event_id text PRIMARY KEY,
    person_id text NOT NULL,
    purpose smallint NOT NULL,
    channel smallint NOT NULL,
    granted boolean NOT NULL,
    source text NOT NULL,
    occurred_at timestamptz NOT NULL
);
CREATE INDEX consent_statements_person ON consent_statements (person_id);

-- The person's latest IANA time zone (event context), for caps' calendar days and quiet hours.
CREATE TABLE person_zones (
    person_id text PRIMARY KEY,
    timezone text NOT NULL,
    occurred_at timestamptz NOT NULL,
    event_id text NOT NULL
);

-- Segments as profile's facts announced them, and who is in them now.
CREATE TABLE known_segments (
    segment_id text PRIMARY KEY,
    version bigint NOT NULL,
    deleted_at timestamptz
);
CREATE TABLE segment_members (
    segment_id text NOT NULL,
    person_id text NOT NULL,
    entered_at timestamptz NOT NULL,
    PRIMARY KEY (segment_id, person_id)
);
CREATE INDEX segment_members_person ON segment_members (person_id);

-- The person's latest exit from a campaign (an exit event, or a conversion when the campaign
-- exits on it): a send for a trigger before it is not made.
CREATE TABLE exits (
    campaign_id text NOT NULL,
    person_id text NOT NULL,
    exited_at timestamptz NOT NULL,
    reason text NOT NULL,
    event_id text NOT NULL,
    PRIMARY KEY (campaign_id, person_id)
);

-- Goal events credited to a campaign (attribution.py): to a message, or to the entry alone
-- (message_id '') when no message was the latest touch within the window.
CREATE TABLE conversions (
    campaign_id text NOT NULL,
    event_id text NOT NULL,
    person_id text NOT NULL,
    occurred_at timestamptz NOT NULL,
    revenue double precision NOT NULL,
    currency text NOT NULL,
    message_id text NOT NULL,
    PRIMARY KEY (campaign_id, event_id)
);
CREATE INDEX conversions_person ON conversions (campaign_id, person_id);

-- A schema created empty replays RESOLVED and PROFILE quietly first (consent, zones and
-- memberships from all of history; nothing triggers): bullseye_platform.replay.
INSERT INTO projection_replays (projection) VALUES ('campaign');
