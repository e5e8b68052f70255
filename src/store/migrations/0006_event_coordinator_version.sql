-- StoredEvent.coordinator_version: which coordinator version stored each event (the seeds'
-- metadata.coordinator_version), for debugging a behaviour that changed between releases.
-- A constant default adds the column without rewriting the partitions; events stored before
-- this migration read as '' (unknown).
ALTER TABLE interaction_events ADD COLUMN coordinator_version text NOT NULL DEFAULT '';
