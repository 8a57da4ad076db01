-- Who entered each campaign, in which arm (assigned at the first decision, kept for life):
-- the report's audience per arm, intent-to-treat. `entered_at` is the assignment, the
-- control's touch for attribution; `returned_at` the first activity after it (retention).
CREATE TABLE participants (
    campaign_id text NOT NULL,
    person_id text NOT NULL,
    arm text NOT NULL,
    entered_at timestamptz NOT NULL,
    last_entered_at timestamptz NOT NULL,
    entries integer NOT NULL DEFAULT 1,
    returned_at timestamptz,
    PRIMARY KEY (campaign_id, person_id)
);
CREATE INDEX participants_person ON participants (person_id);

-- Every decision with every check (a bullseye.campaign.v1.Decision in `record`): one final
-- decision (sent or suppressed) per trigger occurrence, and at most one hold before it.
CREATE TABLE decisions (
    id bigserial PRIMARY KEY,
    campaign_id text NOT NULL,
    person_id text NOT NULL,
    step text NOT NULL,
    occurrence_id text NOT NULL,
    outcome smallint NOT NULL,
    decided_at timestamptz NOT NULL,
    record bytea NOT NULL
);
CREATE UNIQUE INDEX decisions_once ON decisions (campaign_id, step, person_id, occurrence_id, (outcome = 3));
CREATE INDEX decisions_person ON decisions (campaign_id, person_id, id);

-- Every message, recorded SENDING in the decision's transaction (before any handoff) under its
-- idempotency key. The caps count these rows (all but dead-lettered ones: a reservation is
-- released when it can never be delivered). `rendered` is what the first handoff rendered:
-- a retry hands over the same message.
CREATE TABLE deliveries (
    message_id text PRIMARY KEY,
    campaign_id text NOT NULL,
    campaign_version bigint NOT NULL,
    person_id text NOT NULL,
    step text NOT NULL,
    occurrence_id text NOT NULL,
    arm text NOT NULL,
    channel smallint NOT NULL,
    status smallint NOT NULL,
    attempts integer NOT NULL DEFAULT 0,
    last_error text NOT NULL DEFAULT '',
    cost double precision NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL,
    sent_at timestamptz,
    delivered_at timestamptz,
    opened_at timestamptz,
    clicked_at timestamptz,
    next_attempt_at timestamptz,
    rendered bytea
);
CREATE INDEX deliveries_person ON deliveries (person_id, created_at);
CREATE INDEX deliveries_campaign ON deliveries (campaign_id, created_at, message_id);

-- A broadcast's enumeration of its audience, resumable: the members after `after_person` are
-- still to be entered. A run enters the members its rollout stage exposes; a widening run (a
-- stage advanced after the run) enters those the new stage adds.
CREATE TABLE broadcast_runs (
    campaign_id text NOT NULL,
    run_at timestamptz NOT NULL,
    stage integer NOT NULL,
    widening boolean NOT NULL,
    created_at timestamptz NOT NULL,
    after_person text NOT NULL DEFAULT '',
    done boolean NOT NULL DEFAULT false,
    PRIMARY KEY (campaign_id, run_at, stage)
);
