-- Campaigns at their current version: the whole definition (bullseye.campaign.v1.Campaign,
-- output fields included) and the columns the workers select by. `changes` counts the state
-- and stage changes, the cause of each campaign.state_changed fact's message id.
CREATE TABLE campaigns (
    campaign_id text PRIMARY KEY,
    version bigint NOT NULL,
    state smallint NOT NULL,
    definition bytea NOT NULL,
    rollout_stage integer NOT NULL DEFAULT 0,
    stage_started_at timestamptz,
    -- Paused by its guardrail (not by an operator); an operator who resumes it then mutes the
    -- guardrail for that stage (they accepted what it saw): it watches again from the next one.
    tripped boolean NOT NULL DEFAULT false,
    guardrail_muted_stage integer,
    changes bigint NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX campaigns_state ON campaigns (state);
