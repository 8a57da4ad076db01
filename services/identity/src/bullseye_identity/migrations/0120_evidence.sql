-- Evidence, not just links (issue 17): what each link came through and how strong it was,
-- values marked shared and why, so that a value found shared can undo the merges made only
-- through it (graph/healing.py).

-- The identifiers the event was resolved by (priority order, "type:value" joined by the unit
-- separator U+001F, which ingestion refuses inside identifiers): the evidence a healing split
-- reads to find which identifiers hold together without a shared value, and where each event
-- goes then. An event with a user id among them is strong evidence.
ALTER TABLE resolutions ADD COLUMN keys text NOT NULL DEFAULT '';

-- How an identifier joined its person: the event, the identifier of the person it came
-- through ('' when the event created the person with it), and whether it was ever seen in an
-- event with a user id (`strong`): a device seen logged in with two user ids is shared, one
-- that only followed a logged-out sighting was linked by mistake.
ALTER TABLE identifiers ADD COLUMN strong boolean NOT NULL DEFAULT false;
ALTER TABLE identifiers ADD COLUMN cause_event_id text NOT NULL DEFAULT '';
ALTER TABLE identifiers ADD COLUMN via text NOT NULL DEFAULT '';

-- A merge's evidence: the identifier it came through and the strength of the event.
-- A value marked shared is a history entry too ('shared'); an automatic split names the
-- value that caused it here.
ALTER TABLE history ADD COLUMN identifier text NOT NULL DEFAULT '';
ALTER TABLE history ADD COLUMN strength text NOT NULL DEFAULT '';
ALTER TABLE history DROP CONSTRAINT history_kind_check;
ALTER TABLE history ADD CONSTRAINT history_kind_check CHECK (kind IN ('merged', 'split', 'conflict', 'shared'));

-- Values that never link again: blocked for being seen with too many persons, and now also
-- marked shared at the first refused link that shows it (`reason`: the rule it broke).
ALTER TABLE blocked_values RENAME TO shared_values;
ALTER TABLE shared_values ADD COLUMN reason text NOT NULL DEFAULT 'many-persons';

-- The identifiers of both persons of an operator's merge: a healing split keeps together what
-- an operator joined, though no event links them.
CREATE TABLE merge_links (
    id_type text NOT NULL,
    id_value text NOT NULL,
    command_id text NOT NULL,
    PRIMARY KEY (id_type, id_value, command_id)
);
