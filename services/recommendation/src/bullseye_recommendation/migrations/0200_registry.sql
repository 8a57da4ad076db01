-- The model registry: every registered version with its files' checksum, metrics and data
-- window; `folder` is relative to the model storage (RECOMMENDATION_MODEL_DIR).
CREATE TABLE models (
    version text PRIMARY KEY,
    family text NOT NULL,
    checksum text NOT NULL,
    bytes bigint NOT NULL,
    items integer NOT NULL,
    folder text NOT NULL,
    metrics jsonb NOT NULL,
    data_from timestamptz,
    data_to timestamptz,
    registered_at timestamptz NOT NULL
);

-- Publications, newest last: the latest row is the served model. `previous_id` is the
-- publication it replaced; a rollback marks the latest row rolled back and adds a row that
-- serves the replaced publication's version again and stands in its place (its
-- previous_id), so rolling back again goes one further back, and the table keeps every
-- change of the served model in order.
CREATE TABLE publications (
    id bigserial PRIMARY KEY,
    version text NOT NULL REFERENCES models (version),
    previous_id bigint REFERENCES publications (id),
    published_at timestamptz NOT NULL,
    reason text NOT NULL DEFAULT '',
    rollback boolean NOT NULL DEFAULT false,
    rolled_back_at timestamptz
);
