-- Each refused link is recorded in a person's history once: a shared family device would
-- otherwise add a conflict entry on every event of the second user (the metric
-- identity_conflicts still counts every refusal).
CREATE TABLE conflict_pairs (
    person_id text NOT NULL,
    -- The other person, or the refused identifier as "<type>:<value>".
    other text NOT NULL,
    rule text NOT NULL,
    PRIMARY KEY (person_id, other, rule)
);
