-- The rollup queue (migration 0005) filled by statement-level triggers with transition tables
-- instead of row-level ones: one set-based INSERT per writer statement, of each (MCP, minute) it
-- touched once, instead of a PL/pgSQL call and a queue row per finished interaction (fewer queue
-- rows for the job to read and delete; the triggers' own cost measured the same either way).
-- What is queued is unchanged: the minute (of ended_at) of every summary whose finished figures
-- changed, before and after the change.
--
-- And when each queue row was added: the rollup job leaves a minute that is still filling alone
-- until its oldest change has waited a while (RollupOptions.settleMs), so under steady ingest a
-- minute is recomputed from its summaries about twice rather than at every 5-s run (each run
-- re-read every summary of the current minute: six times the minute's rows, on average).
ALTER TABLE interaction_rollup_queue ADD COLUMN queued_at timestamptz NOT NULL DEFAULT now();

DROP TRIGGER interactions_rollup_insert ON interactions;
DROP TRIGGER interactions_rollup_update ON interactions;
DROP FUNCTION queue_interaction_rollup();

CREATE FUNCTION queue_inserted_interaction_rollups() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO interaction_rollup_queue (mcp_id, minute)
    SELECT DISTINCT mcp_id, date_trunc('minute', ended_at, 'UTC') FROM inserted WHERE ended_at IS NOT NULL;
  RETURN NULL;
END;
$$;

-- Why the join on the key: a transition table has the rows, not the pairs; the pairs tell which
-- summaries' figures changed (a progress event or a resend changes none, and queues nothing).
CREATE FUNCTION queue_updated_interaction_rollups() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO interaction_rollup_queue (mcp_id, minute)
    SELECT DISTINCT n.mcp_id, m.minute
    FROM updated_old o
    JOIN updated_new n USING (mcp_id, interaction_id)
    CROSS JOIN LATERAL (VALUES (date_trunc('minute', o.ended_at, 'UTC')), (date_trunc('minute', n.ended_at, 'UTC'))) AS m(minute)
    WHERE n.ended_at IS NOT NULL AND m.minute IS NOT NULL
      AND (o.ended_at IS DISTINCT FROM n.ended_at OR o.success IS DISTINCT FROM n.success
        OR o.error_code IS DISTINCT FROM n.error_code OR o.processing_ms IS DISTINCT FROM n.processing_ms);
  RETURN NULL;
END;
$$;

CREATE TRIGGER interactions_rollup_insert AFTER INSERT ON interactions
  REFERENCING NEW TABLE AS inserted
  FOR EACH STATEMENT EXECUTE FUNCTION queue_inserted_interaction_rollups();
CREATE TRIGGER interactions_rollup_update AFTER UPDATE ON interactions
  REFERENCING OLD TABLE AS updated_old NEW TABLE AS updated_new
  FOR EACH STATEMENT EXECUTE FUNCTION queue_updated_interaction_rollups();
