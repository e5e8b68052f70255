-- The rollup queue is now filled by the writer's statement itself (src/interactions/
-- writer-queries.ts, the "queued" step): it queues the minute of every finished summary it
-- changed, from the rows its upsert returns. The statement triggers of migration 0008 go: their
-- transition tables copied every changed summary, old and new, and cost PostgreSQL 3 to 5 µs of
-- CPU per event stored, against under 1 µs for the writer's step (interleaved measurements, as
-- scripts/bench/rollup-write-cost.ts makes them).
--
-- What only an UPDATE knows stays in a trigger: the minute a finished summary leaves when a later
-- terminal event wins (a late FAILED over a COMPLETED, or a later terminal time). It is a row
-- trigger whose WHEN clause is false for every other row, so ordinary ingest calls no function.
--
-- Upgrading: a replica older than this migration no longer queues anything once it has run, so
-- replace all replicas together. Minutes written by an old replica in between can be queued again
-- by hand: INSERT INTO interaction_rollup_queue (mcp_id, minute) SELECT DISTINCT mcp_id,
-- date_trunc('minute', ended_at, 'UTC') FROM interactions WHERE ended_at >= '<upgrade start>';
DROP TRIGGER interactions_rollup_insert ON interactions;
DROP TRIGGER interactions_rollup_update ON interactions;
DROP FUNCTION queue_inserted_interaction_rollups();
DROP FUNCTION queue_updated_interaction_rollups();

CREATE FUNCTION queue_left_rollup_minute() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO interaction_rollup_queue (mcp_id, minute) VALUES (OLD.mcp_id, date_trunc('minute', OLD.ended_at, 'UTC'));
  RETURN NULL;
END;
$$;

-- The new minute is the writer's to queue (the summary is among the rows its upsert returns).
CREATE TRIGGER interactions_rollup_moved AFTER UPDATE ON interactions
  FOR EACH ROW WHEN (OLD.ended_at IS NOT NULL AND OLD.ended_at IS DISTINCT FROM NEW.ended_at)
  EXECUTE FUNCTION queue_left_rollup_minute();
