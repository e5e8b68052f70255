-- Rollups of finished interactions for GetPerformanceMetrics and RankMcps: per MCP and per minute,
-- hour and day, so a 30-day query reads about 1,500 day rows instead of millions of summaries.
--
-- How they stay right: a trigger on interactions queues the minute (of ended_at) of every summary
-- whose finished figures changed, before and after the change; the rollup job
-- (src/interactions/rollups/) recomputes those minutes from the summaries, then the hours and days
-- above them from the minutes, and removes the queue rows it handled, all in one transaction. A
-- late FAILED that overrides a COMPLETED therefore moves the interaction between minutes exactly.
-- Nothing is added to the ingest statement itself beyond one queue row per finished interaction.

-- Processing times are counted in log-scale buckets: bucket b holds [1.04^b, 1.04^(b+1)) ms, so a
-- percentile read from the buckets is within 2% of the exact value ((1.04 - 1) / (1.04 + 1)).
-- Times under 1 µs (and negative ones, from clock skew) fall in bucket -32768 and count as 0.
CREATE FUNCTION interaction_ms_bucket(ms double precision) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN ms < 0.001 THEN -32768 ELSE floor(ln(ms) / ln(1.04::double precision))::integer END
$$;

-- The value a bucket stands for: the point whose relative distance to both ends is equal.
CREATE FUNCTION interaction_bucket_ms(bucket integer) RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN bucket = -32768 THEN 0 ELSE 2 * power(1.04::double precision, bucket + 1) / 2.04 END
$$;

-- Minutes whose rollups are out of date. No key and no index: the trigger only appends, and the
-- job reads the whole (short) queue.
CREATE TABLE interaction_rollup_queue (
  mcp_id text NOT NULL,
  minute timestamptz NOT NULL
);

CREATE FUNCTION queue_interaction_rollup() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND OLD.ended_at IS NOT NULL THEN
    INSERT INTO interaction_rollup_queue VALUES (OLD.mcp_id, date_trunc('minute', OLD.ended_at, 'UTC'));
  END IF;
  IF TG_OP = 'INSERT' OR OLD.ended_at IS NULL OR date_trunc('minute', NEW.ended_at, 'UTC') <> date_trunc('minute', OLD.ended_at, 'UTC') THEN
    INSERT INTO interaction_rollup_queue VALUES (NEW.mcp_id, date_trunc('minute', NEW.ended_at, 'UTC'));
  END IF;
  RETURN NULL;
END;
$$;

-- Why WHEN clauses: a summary that is not finished, or whose figures did not change (a progress
-- event, a duplicate-free resend), costs no function call.
CREATE TRIGGER interactions_rollup_insert AFTER INSERT ON interactions
  FOR EACH ROW WHEN (NEW.ended_at IS NOT NULL)
  EXECUTE FUNCTION queue_interaction_rollup();
CREATE TRIGGER interactions_rollup_update AFTER UPDATE ON interactions
  FOR EACH ROW WHEN (NEW.ended_at IS NOT NULL AND (
    OLD.ended_at IS DISTINCT FROM NEW.ended_at OR OLD.success IS DISTINCT FROM NEW.success
    OR OLD.error_code IS DISTINCT FROM NEW.error_code OR OLD.processing_ms IS DISTINCT FROM NEW.processing_ms))
  EXECUTE FUNCTION queue_interaction_rollup();

-- Recomputing a minute reads that MCP's summaries that ended in it; RankMcps counts an MCP's
-- running interactions (ended_at IS NULL sorts last within the MCP).
CREATE INDEX interactions_mcp_ended_idx ON interactions (mcp_id, ended_at);

-- Figures of the interactions of one MCP that finished in one bucket [bucket_start, + grain).
CREATE TABLE interaction_rollups (
  grain text NOT NULL CHECK (grain IN ('minute', 'hour', 'day')),
  bucket_start timestamptz NOT NULL,
  mcp_id text NOT NULL,
  finished bigint NOT NULL,
  succeeded bigint NOT NULL,
  -- Interactions with a processing time, and its sum, min and max (ms, negative counted as 0).
  samples bigint NOT NULL,
  sum_ms double precision NOT NULL,
  min_ms double precision,
  max_ms double precision,
  -- Sparse histogram: bucket numbers (ascending, see interaction_ms_bucket) and their counts.
  hist_buckets integer[] NOT NULL,
  hist_counts bigint[] NOT NULL,
  PRIMARY KEY (grain, bucket_start, mcp_id)
);

-- One MCP's rows over a period.
CREATE INDEX interaction_rollups_mcp_idx ON interaction_rollups (mcp_id, grain, bucket_start);

-- Failed interactions per error code in the same buckets ('' for failures without a code).
CREATE TABLE interaction_error_rollups (
  grain text NOT NULL CHECK (grain IN ('minute', 'hour', 'day')),
  bucket_start timestamptz NOT NULL,
  mcp_id text NOT NULL,
  error_code text NOT NULL,
  failed bigint NOT NULL,
  last_at timestamptz NOT NULL,
  PRIMARY KEY (grain, bucket_start, mcp_id, error_code)
);

CREATE INDEX interaction_error_rollups_mcp_idx ON interaction_error_rollups (mcp_id, grain, bucket_start);

-- Summaries that finished before this migration have no rollups yet: queue their minutes.
INSERT INTO interaction_rollup_queue
  SELECT DISTINCT mcp_id, date_trunc('minute', ended_at, 'UTC') FROM interactions WHERE ended_at IS NOT NULL;
