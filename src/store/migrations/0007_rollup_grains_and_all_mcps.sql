-- Two additions to the rollups of migration 0005, so a 30-day GetPerformanceMetrics over all MCPs
-- merges about half as many histogram entries and sums hundreds of rows instead of tens of
-- thousands (src/interactions/rollups/grains.ts says why these levels):
--
-- - Rows for all MCPs together, under mcp_id '*' (never a valid MCP id): the hourly series and
--   the top error codes of all MCPs read 720 hour rows, not 720 per MCP. The rollup job computes
--   a '*' minute from the MCPs' rows of that minute, and the levels above like any MCP's.
-- - Doubling grains between the hour and the day (2, 4 and 8 hours) and above the day (2, 4, 8
--   and 16 days). Every bucket is aligned to the Unix epoch (date_bin from 1970-01-01 UTC), so
--   each one is made of whole buckets of the grain below.
ALTER TABLE interaction_rollups DROP CONSTRAINT interaction_rollups_grain_check,
  ADD CONSTRAINT interaction_rollups_grain_check CHECK (grain IN
    ('minute', 'hour', '2 hours', '4 hours', '8 hours', 'day', '2 days', '4 days', '8 days', '16 days'));
ALTER TABLE interaction_error_rollups DROP CONSTRAINT interaction_error_rollups_grain_check,
  ADD CONSTRAINT interaction_error_rollups_grain_check CHECK (grain IN
    ('minute', 'hour', '2 hours', '4 hours', '8 hours', 'day', '2 days', '4 days', '8 days', '16 days'));

-- A grain's bucket length ('minute', 'hour' and 'day' predate the names that are intervals).
CREATE FUNCTION interaction_rollup_interval(grain text) RETURNS interval
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE grain WHEN 'minute' THEN interval '1 minute' WHEN 'hour' THEN interval '1 hour' WHEN 'day' THEN interval '1 day'
    ELSE grain::interval END
$$;

-- The rows the existing rollups imply, built here rather than by requeueing every minute: they
-- exist as soon as the new code reads them.

-- All MCPs together, at the existing grains: the sum of the MCPs' rows of the same bucket.
INSERT INTO interaction_rollups (grain, bucket_start, mcp_id, finished, succeeded, samples, sum_ms, min_ms, max_ms, hist_buckets, hist_counts)
SELECT t.grain, t.bucket_start, '*', t.finished, t.succeeded, t.samples, t.sum_ms, t.min_ms, t.max_ms,
  COALESCE(h.buckets, '{}'), COALESCE(h.counts, '{}')
FROM (
  SELECT grain, bucket_start, sum(finished) AS finished, sum(succeeded) AS succeeded, sum(samples) AS samples,
    sum(sum_ms) AS sum_ms, min(min_ms) AS min_ms, max(max_ms) AS max_ms
  FROM interaction_rollups GROUP BY grain, bucket_start
) t
LEFT JOIN (
  SELECT grain, bucket_start, array_agg(bucket ORDER BY bucket) AS buckets, array_agg(n ORDER BY bucket) AS counts
  FROM (
    SELECT r.grain, r.bucket_start, u.bucket, sum(u.n)::bigint AS n
    FROM interaction_rollups r, unnest(r.hist_buckets, r.hist_counts) AS u(bucket, n)
    GROUP BY 1, 2, 3
  ) b
  GROUP BY grain, bucket_start
) h USING (grain, bucket_start);

INSERT INTO interaction_error_rollups (grain, bucket_start, mcp_id, error_code, failed, last_at)
SELECT grain, bucket_start, '*', error_code, sum(failed), max(last_at)
FROM interaction_error_rollups GROUP BY grain, bucket_start, error_code;

-- The new grains, each from the one below it (the MCPs' rows and '*' alike).
DO $$
DECLARE
  level record;
BEGIN
  FOR level IN SELECT * FROM (VALUES
      (1, '2 hours', 'hour'), (2, '4 hours', '2 hours'), (3, '8 hours', '4 hours'),
      (4, '2 days', 'day'), (5, '4 days', '2 days'), (6, '8 days', '4 days'), (7, '16 days', '8 days')
    ) AS l(n, grain, child) ORDER BY n
  LOOP
    EXECUTE format($sql$
      INSERT INTO interaction_rollups (grain, bucket_start, mcp_id, finished, succeeded, samples, sum_ms, min_ms, max_ms, hist_buckets, hist_counts)
      SELECT %1$L, t.bucket_start, t.mcp_id, t.finished, t.succeeded, t.samples, t.sum_ms, t.min_ms, t.max_ms,
        COALESCE(h.buckets, '{}'), COALESCE(h.counts, '{}')
      FROM (
        SELECT date_bin(%1$L::interval, bucket_start, timestamptz '1970-01-01 00:00:00+00') AS bucket_start, mcp_id,
          sum(finished) AS finished, sum(succeeded) AS succeeded, sum(samples) AS samples, sum(sum_ms) AS sum_ms,
          min(min_ms) AS min_ms, max(max_ms) AS max_ms
        FROM interaction_rollups WHERE grain = %2$L GROUP BY 1, 2
      ) t
      LEFT JOIN (
        SELECT bucket_start, mcp_id, array_agg(bucket ORDER BY bucket) AS buckets, array_agg(n ORDER BY bucket) AS counts
        FROM (
          SELECT date_bin(%1$L::interval, r.bucket_start, timestamptz '1970-01-01 00:00:00+00') AS bucket_start, r.mcp_id,
            u.bucket, sum(u.n)::bigint AS n
          FROM interaction_rollups r, unnest(r.hist_buckets, r.hist_counts) AS u(bucket, n)
          WHERE r.grain = %2$L
          GROUP BY 1, 2, 3
        ) b
        GROUP BY bucket_start, mcp_id
      ) h USING (bucket_start, mcp_id)$sql$, level.grain, level.child);
    EXECUTE format($sql$
      INSERT INTO interaction_error_rollups (grain, bucket_start, mcp_id, error_code, failed, last_at)
      SELECT %1$L, date_bin(%1$L::interval, bucket_start, timestamptz '1970-01-01 00:00:00+00'), mcp_id, error_code, sum(failed), max(last_at)
      FROM interaction_error_rollups WHERE grain = %2$L GROUP BY 2, 3, 4$sql$, level.grain, level.child);
  END LOOP;
END
$$;

-- The '*' rows change the MCP column's statistics: without fresh ones the planner takes '*' for
-- a rare value and reads the all-MCP rows through the mcp_id index, row by row.
ANALYZE interaction_rollups;
ANALYZE interaction_error_rollups;
