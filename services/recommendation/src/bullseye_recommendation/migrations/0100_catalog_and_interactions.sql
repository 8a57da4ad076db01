-- The catalog as CATALOG last described each item (the newest version wins: `version` is the
-- change's updated_at or deleted_at); a deletion is kept as a tombstone, so an older upsert
-- arriving later cannot bring the item back.
CREATE TABLE items (
    item_id text PRIMARY KEY,
    title text NOT NULL DEFAULT '',
    category_path text[] NOT NULL DEFAULT '{}',
    brand text NOT NULL DEFAULT '',
    price numeric,
    currency text NOT NULL DEFAULT '',
    tags text[] NOT NULL DEFAULT '{}',
    in_stock boolean NOT NULL DEFAULT false,
    published boolean NOT NULL DEFAULT false,
    deleted boolean NOT NULL DEFAULT false,
    version timestamptz NOT NULL
);

-- One row per (event, item, signal): what each resolved event said about each item, with the
-- weight the configured feedback weights gave it. Event-level, so that a split moves exactly
-- the listed events and a merge re-points a person's rows; `sequence` (the event's EVENTS
-- sequence) orders events of the same instant.
CREATE TABLE interactions (
    event_id text NOT NULL,
    item_id text NOT NULL,
    signal text NOT NULL,
    person_id text NOT NULL,
    weight numeric NOT NULL,
    occurred_at timestamptz NOT NULL,
    sequence bigint NOT NULL,
    order_id text NOT NULL DEFAULT '',
    PRIMARY KEY (event_id, item_id, signal)
);
CREATE INDEX interactions_person ON interactions (person_id);
CREATE INDEX interactions_order ON interactions (order_id) WHERE order_id <> '';

-- The weighted implicit feedback per person and item, folded from `interactions`: the net
-- weight, purchases less refunds, and the latest touch (the item's place in the person's
-- order, which the model reads most recent first).
CREATE TABLE person_items (
    person_id text NOT NULL,
    item_id text NOT NULL,
    weight numeric NOT NULL,
    purchases integer NOT NULL,
    last_at timestamptz NOT NULL,
    last_sequence bigint NOT NULL,
    PRIMARY KEY (person_id, item_id)
);
CREATE INDEX person_items_recent ON person_items (person_id, last_at DESC, last_sequence DESC);

-- Time-decayed popularity: the sum of weight × 2^((occurred_at − epoch) / half-life) over an
-- item's interactions. numeric, so that the sum is exact whatever order batches come in (a
-- rebuild equals the live table); read as score / 2^((now − epoch) / half-life).
CREATE TABLE item_popularity (
    item_id text PRIMARY KEY,
    score numeric NOT NULL
);

-- Categories a person browsed (category and product pages), per event: a new person's
-- cold start ranks popular items in them first.
CREATE TABLE interests (
    event_id text NOT NULL,
    category text NOT NULL,
    person_id text NOT NULL,
    PRIMARY KEY (event_id, category)
);
CREATE INDEX interests_person ON interests (person_id);

-- Personalization consent statements (ConsentChanged, purpose personalization), folded at
-- read time by bullseye_platform.consent.
CREATE TABLE consent_statements (
    event_id text PRIMARY KEY,
    person_id text NOT NULL,
    channel integer NOT NULL,
    granted boolean NOT NULL,
    source text NOT NULL,
    occurred_at timestamptz NOT NULL
);
CREATE INDEX consent_statements_person ON consent_statements (person_id);

-- Merged person ids and their (final) survivor (bullseye_platform.persons).
CREATE TABLE person_aliases (
    person_id text PRIMARY KEY,
    survivor_id text NOT NULL
);
CREATE INDEX person_aliases_survivor ON person_aliases (survivor_id);

-- Events that carried a recommendation id: a click (view, cart, wishlist) or an order.
CREATE TABLE attributions (
    event_id text PRIMARY KEY,
    recommendation_id text NOT NULL,
    outcome text NOT NULL CHECK (outcome IN ('click', 'order')),
    occurred_at timestamptz NOT NULL
);
CREATE INDEX attributions_recommendation ON attributions (recommendation_id);

-- Impressions (RECO `served` facts) and those a serving process lost (`impressions.lost`):
-- what the experiment report counts. The items shown stay in the facts on RECO.
CREATE TABLE impressions (
    recommendation_id text PRIMARY KEY,
    person_id text NOT NULL,
    variant text NOT NULL,
    placement text NOT NULL,
    model_version text NOT NULL,
    served_at timestamptz NOT NULL
);
CREATE INDEX impressions_served ON impressions (served_at);
CREATE TABLE lost_impressions (
    recommendation_id text PRIMARY KEY,
    variant text NOT NULL,
    placement text NOT NULL,
    served_at timestamptz NOT NULL
);
CREATE INDEX lost_impressions_served ON lost_impressions (served_at);

-- Serving processes reload their in-memory catalog and popularity when told: the projection
-- notifies this channel in the transaction that changed them ('items' or 'popularity').
-- (The channel is recommendation_snapshot:<schema>, see serving/snapshot.py.)
-- What a person bought and kept: the "exclude purchased" filter reads it on every call.
CREATE INDEX person_items_purchased ON person_items (person_id) WHERE purchases > 0;
