-- Operators' corrections (Merge, Split) as the resolver applied them from EVENTS, by command
-- id: written in the transaction that applies the correction, so a row means it took effect
-- (or was refused, with why). The RPC that recorded the command answers with `outcome`; a
-- repeat of the command id later in EVENTS is recognised here and not applied again.
CREATE TABLE corrections (
    command_id text PRIMARY KEY,
    kind text NOT NULL CHECK (kind IN ('merge', 'split', 'unknown')),
    events_seq bigint NOT NULL,
    occurred_at timestamptz NOT NULL,
    -- A google.rpc.Status: code 0 with the RPC's reply packed in its details, or the error.
    outcome bytea NOT NULL
);

-- Wake the RPCs waiting for an outcome (every identity process listens on its schema's
-- channel); they also poll, so a notification lost with a connection only delays them.
CREATE FUNCTION corrections_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('bullseye_corrections:' || TG_TABLE_SCHEMA, NEW.command_id);
    RETURN NULL;
END
$$;

CREATE TRIGGER corrections_notify AFTER INSERT ON corrections FOR EACH ROW EXECUTE FUNCTION corrections_notify();
