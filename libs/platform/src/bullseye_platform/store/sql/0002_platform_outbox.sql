-- Facts a service emits because of a state change, written in the same transaction as the
-- change and relayed to the stream afterwards (transactional outbox).
CREATE TABLE outbox (
    id bigserial PRIMARY KEY,
    subject text NOT NULL,
    msg_id text NOT NULL,
    headers jsonb NOT NULL DEFAULT '{}',
    payload bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
