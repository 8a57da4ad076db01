-- Segment definitions. `rule` is a serialized bullseye.profile.v1.Rule; `version` grows on
-- every update and `computed_version` is the version whose full recompute has finished.
-- A deleted segment keeps its row (deleted_at) so its membership history stays answerable.
-- Definitions come from RPCs, not from the log: a projection rebuild must not truncate this.
CREATE TABLE segments (
    segment_id text PRIMARY KEY,
    name text NOT NULL,
    description text NOT NULL DEFAULT '',
    rule bytea NOT NULL,
    version bigint NOT NULL,
    computed_version bigint NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    deleted_at timestamptz
);

-- Membership intervals: a person is in a segment from entered_at until exited_at (open =
-- current member). "Who was in S at T" = intervals of S that cover T. A projection of
-- profiles (rebuildable), so the profile projection owns (truncates) it on rebuild.
CREATE TABLE segment_memberships (
    id bigserial PRIMARY KEY,
    segment_id text NOT NULL REFERENCES segments (segment_id),
    person_id text NOT NULL,
    rule_version bigint NOT NULL,
    entered_at timestamptz NOT NULL,
    exited_at timestamptz,
    exit_version bigint
);
-- At most one open interval per (segment, person): a second entry fails loudly instead of
-- double counting.
CREATE UNIQUE INDEX segment_memberships_current ON segment_memberships (segment_id, person_id)
    WHERE exited_at IS NULL;
CREATE INDEX segment_memberships_person ON segment_memberships (person_id) WHERE exited_at IS NULL;
CREATE INDEX segment_memberships_history ON segment_memberships (segment_id, person_id, entered_at);

-- Durable full recomputes, one per (segment, version): queued in the transaction that
-- changed the rule, claimed with FOR UPDATE SKIP LOCKED, deleted when done. A job whose
-- version was superseded is dropped by the worker.
CREATE TABLE segment_recompute_jobs (
    segment_id text NOT NULL REFERENCES segments (segment_id),
    version bigint NOT NULL,
    queued_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (segment_id, version)
);
