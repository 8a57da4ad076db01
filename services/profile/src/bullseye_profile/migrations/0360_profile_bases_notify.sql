-- Every process's GetProfile read cache (read_cache.py) hears of changes by NOTIFY on
-- 'bullseye_profile_bases:<schema>'. The projection and the RFM recompute notify in their
-- transactions; a TRUNCATE of what a read returns (a rebuild resetting the projection) says
-- '*' here, so no cache outlives the tables it was read from.
CREATE FUNCTION notify_profile_bases_reset() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('bullseye_profile_bases:' || TG_TABLE_SCHEMA, '*');
    RETURN NULL;
END
$$;

CREATE TRIGGER profile_snapshots_truncated AFTER TRUNCATE ON profile_snapshots
    FOR EACH STATEMENT EXECUTE FUNCTION notify_profile_bases_reset();
CREATE TRIGGER person_aliases_truncated AFTER TRUNCATE ON person_aliases
    FOR EACH STATEMENT EXECUTE FUNCTION notify_profile_bases_reset();
CREATE TRIGGER rfm_scores_truncated AFTER TRUNCATE ON rfm_scores
    FOR EACH STATEMENT EXECUTE FUNCTION notify_profile_bases_reset();
CREATE TRIGGER population_stats_truncated AFTER TRUNCATE ON population_stats
    FOR EACH STATEMENT EXECUTE FUNCTION notify_profile_bases_reset();
