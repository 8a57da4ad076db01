-- The per-person journal: one row per applied event, with just what profiles are computed
-- from. Profiles are folded from it at read time (windows never need a timer), a merge
-- re-points the merged person's rows, a split moves exactly the listed events, and the
-- event_id key drops an event seen twice (a repeat after the log's duplicate window).
CREATE TABLE journal (
    event_id text PRIMARY KEY,
    person_id text NOT NULL,
    event_type text NOT NULL,
    occurred_at timestamptz NOT NULL,
    local_hour smallint NOT NULL,
    channel smallint NOT NULL DEFAULT 0,
    device_type text NOT NULL DEFAULT '',
    timezone text NOT NULL DEFAULT '',
    session_id text NOT NULL DEFAULT '',
    -- Order revenue or refunded amount, in major units of `currency`.
    amount numeric NOT NULL DEFAULT 0,
    currency text NOT NULL DEFAULT '',
    -- Mean unit price of the products the event is about (NULL: none).
    unit_price numeric,
    discounted boolean NOT NULL DEFAULT false,
    categories jsonb NOT NULL DEFAULT '[]',
    brands jsonb NOT NULL DEFAULT '[]',
    -- Traits (identified) or the consent statement (consent_changed), else NULL.
    detail jsonb
);
CREATE INDEX journal_person_time ON journal (person_id, occurred_at);
CREATE INDEX journal_orders ON journal (person_id, occurred_at) WHERE event_type = 'order_completed';

-- A merged person id and the person it now belongs to (always the final survivor), so
-- records that still name the merged person land on the survivor.
CREATE TABLE person_aliases (
    person_id text PRIMARY KEY,
    survivor_id text NOT NULL
);
CREATE INDEX person_aliases_survivor ON person_aliases (survivor_id);

-- RFM standing of each purchaser as of the last computation.
CREATE TABLE rfm_scores (
    person_id text PRIMARY KEY,
    recency_days int NOT NULL,
    frequency bigint NOT NULL,
    monetary numeric NOT NULL,
    r smallint NOT NULL,
    f smallint NOT NULL,
    m smallint NOT NULL,
    segment smallint NOT NULL,
    computed_at timestamptz NOT NULL
);

-- Population figures from the last RFM computation that tag rules compare against.
CREATE TABLE population_stats (
    name text PRIMARY KEY,
    value double precision NOT NULL,
    computed_at timestamptz NOT NULL
);

-- The durable RFM schedule: a worker claims the row FOR UPDATE SKIP LOCKED when it is due,
-- so a restart never forgets a run and two workers never run it at once.
CREATE TABLE rfm_schedule (
    id smallint PRIMARY KEY CHECK (id = 1),
    next_run_at timestamptz NOT NULL,
    last_run_at timestamptz
);
INSERT INTO rfm_schedule (id, next_run_at) VALUES (1, '-infinity');
