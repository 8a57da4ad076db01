"""The graph's SQL, in one place (tables: migrations/0100_graph.sql)."""

from __future__ import annotations

# Every change of the graph takes this transaction-scoped lock first: the projection's
# batches and the operators' Merge/Split never interleave on one person. It serialises
# all graph writes of the service (one writer at a time): the throughput limit is one
# batch at a time, which the single-reader projection needs anyway.
GRAPH_LOCK_ID = 0x1D_E7_17_01
LOCK = "SELECT pg_advisory_xact_lock($1)"

_KEYS = "unnest($1::text[], $2::text[]) AS k(t, v)"

IDENTIFIERS_BY_KEY = f"""
SELECT i.id_type, i.id_value, i.person_id, i.first_seen, i.last_seen, i.source, i.strong
FROM identifiers i JOIN {_KEYS} ON i.id_type = k.t AND i.id_value = k.v
"""
SHARED = f"SELECT s.id_type, s.id_value FROM shared_values s JOIN {_KEYS} ON s.id_type = k.t AND s.id_value = k.v"
RESOLVED = "SELECT event_id FROM resolutions WHERE event_id = ANY($1::text[])"
PERSONS = "SELECT person_id, created_seq, created_at, merged_into FROM persons WHERE person_id = ANY($1::text[])"
COUNTS = "SELECT person_id, id_type, count(*) AS n FROM identifiers WHERE person_id = ANY($1::text[]) GROUP BY 1, 2"
# The person a (possibly merged) person id stands for now.
CURRENT = "SELECT coalesce(merged_into, person_id) FROM persons WHERE person_id = $1"

# Merges of a batch: $1 merged persons, $2 their final survivors. Earlier merges into a
# merged person move on to its survivor too, so `merged_into` is always one hop.
_FOLDED = "unnest($1::text[], $2::text[]) AS m(merged, survivor)"
REPOINT_IDENTIFIERS = f"UPDATE identifiers i SET person_id = m.survivor FROM {_FOLDED} WHERE i.person_id = m.merged"
REPOINT_PERSONS = f"""
UPDATE persons p SET merged_into = m.survivor FROM {_FOLDED}
WHERE p.person_id = m.merged OR p.merged_into = m.merged
"""

CLAIMS_BY_KEY = f"""
SELECT c.id_type, c.id_value, c.person_id FROM value_claims c JOIN {_KEYS} ON c.id_type = k.t AND c.id_value = k.v
"""
CLAIM = """
INSERT INTO value_claims (id_type, id_value, person_id)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[]) ON CONFLICT DO NOTHING
"""
MARK_SHARED = """
INSERT INTO shared_values (id_type, id_value, persons, cause_event_id, reason)
SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::text[]) ON CONFLICT DO NOTHING
"""

UPSERT_PERSONS = """
INSERT INTO persons (person_id, created_seq, created_at, merged_into)
SELECT * FROM unnest($1::text[], $2::bigint[], $3::timestamptz[], $4::text[])
ON CONFLICT (person_id) DO UPDATE SET merged_into = excluded.merged_into
"""
# How an identifier joined (cause_event_id, via) is written once, when it joins.
UPSERT_IDENTIFIERS = """
INSERT INTO identifiers (id_type, id_value, person_id, first_seen, last_seen, source, strong, cause_event_id, via)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::timestamptz[], $6::text[],
                     $7::bool[], $8::text[], $9::text[])
ON CONFLICT (id_type, id_value) DO UPDATE
SET person_id = excluded.person_id, first_seen = excluded.first_seen, last_seen = excluded.last_seen,
    strong = excluded.strong
"""
INSERT_RESOLUTIONS = """
INSERT INTO resolutions (event_id, person_id, events_seq, primary_type, primary_value, keys)
SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[])
"""
INSERT_HISTORY = """
INSERT INTO history (person_id, kind, other_person_id, survivor, reason, rule, cause_event_id, occurred_at,
                     identifier, strength)
SELECT p, k, o, s, r, u, c, a, i, g
FROM unnest($1::text[], $2::text[], $3::text[], $4::bool[], $5::text[], $6::text[], $7::text[], $8::timestamptz[],
            $9::text[], $10::text[])
WITH ORDINALITY AS h(p, k, o, s, r, u, c, a, i, g, n) ORDER BY n
"""
FIRST_CONFLICTS = """
INSERT INTO conflict_pairs (person_id, other, rule)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[]) ON CONFLICT DO NOTHING
RETURNING person_id, other, rule
"""
