-- Wake this schema's outbox relay when facts are queued: the trigger saves every emitting
-- transaction a NOTIFY round trip, and a channel per schema keeps one service's facts
-- from waking the relays of the others that share the database.
CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('bullseye_outbox:' || TG_TABLE_SCHEMA, '');
    RETURN NULL;
END
$$;

CREATE TRIGGER outbox_notify AFTER INSERT ON outbox FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();
