-- The log manager's write side: registered MCPs, their live connections, the append-only event
-- log with its dedupe keys, and one summary row per interaction.

-- Registered MCPs (RegisterMcp upserts; a stream from an unregistered MCP registers it by id).
CREATE TABLE mcps (
  mcp_id text PRIMARY KEY,
  name text NOT NULL DEFAULT '',
  version text NOT NULL DEFAULT '',
  type text NOT NULL DEFAULT '',
  description text NOT NULL DEFAULT '',
  environment text NOT NULL DEFAULT '',
  region text NOT NULL DEFAULT '',
  capabilities text[] NOT NULL DEFAULT '{}',
  supported_formats text[] NOT NULL DEFAULT '{}',
  -- [{name, url, protocol}]
  endpoints jsonb NOT NULL DEFAULT '[]',
  -- {cpu_cores, memory_mb, gpu_count, gpu_memory_mb}
  resources jsonb NOT NULL DEFAULT '{}',
  routing_priority integer NOT NULL DEFAULT 0,
  routing_weight double precision NOT NULL DEFAULT 1,
  routing_max_concurrency integer NOT NULL DEFAULT 0,
  registered_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  -- Updated in batches by each coordinator (not once per heartbeat).
  last_seen timestamptz
);

-- "Which MCPs offer capability X" (RankMcps, ListMcps filter).
CREATE INDEX mcps_capabilities_idx ON mcps USING gin (capabilities);

-- Coordinator processes (replicas) and when each last proved it was alive. A connection row
-- whose coordinator stopped proving it is stale (the replica crashed) and is not "connected".
CREATE TABLE coordinator_instances (
  instance_id text PRIMARY KEY,
  hostname text NOT NULL DEFAULT '',
  pid integer NOT NULL DEFAULT 0,
  version text NOT NULL DEFAULT '',
  started_at timestamptz NOT NULL DEFAULT now(),
  last_seen timestamptz NOT NULL DEFAULT now()
);

-- Open StreamInteractions streams: one row per stream, removed when it ends.
CREATE TABLE mcp_connections (
  stream_id text PRIMARY KEY,
  mcp_id text NOT NULL,
  coordinator_instance text NOT NULL REFERENCES coordinator_instances (instance_id) ON DELETE CASCADE,
  instance_id text NOT NULL DEFAULT '',
  client_version text NOT NULL DEFAULT '',
  connected_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX mcp_connections_mcp_idx ON mcp_connections (mcp_id);
CREATE INDEX mcp_connections_instance_idx ON mcp_connections (coordinator_instance);

-- Dedupe keys: an event is stored at most once per (mcp_id, event_id). A separate table because a
-- unique index on the partitioned event log would have to include the partition key.
CREATE TABLE interaction_event_keys (
  mcp_id text NOT NULL,
  event_id text NOT NULL,
  received_at timestamptz NOT NULL,
  PRIMARY KEY (mcp_id, event_id)
);

-- Retention trims keys by age, together with the event partitions it drops.
CREATE INDEX interaction_event_keys_received_idx ON interaction_event_keys (received_at);

-- The append-only event log, partitioned by month of arrival so retention drops whole partitions.
CREATE TABLE interaction_events (
  received_at timestamptz NOT NULL,
  mcp_id text NOT NULL,
  event_id text NOT NULL,
  interaction_id text NOT NULL,
  session_id text NOT NULL DEFAULT '',
  -- coordinator.v1.EventKind number.
  kind smallint NOT NULL,
  occurred_at timestamptz NOT NULL,
  -- The stream and seq it arrived with (NULL for ReportInteractions), for debugging.
  stream_id text,
  seq bigint,
  -- The whole coordinator.v1.InteractionEvent, protobuf-encoded, with metadata defaults applied.
  payload bytea NOT NULL
) PARTITION BY RANGE (received_at);

-- GetInteraction: all events of one interaction in order.
CREATE INDEX interaction_events_interaction_idx ON interaction_events (mcp_id, interaction_id, occurred_at);

-- Safety net: a row outside every monthly partition still lands somewhere instead of failing
-- ingest. It stays empty while partitions are created ahead of time.
CREATE TABLE interaction_events_default PARTITION OF interaction_events DEFAULT;

-- Creates the monthly partitions covering [month of from_date, + months) that do not exist yet.
-- Called at every coordinator start and daily; idempotent and safe to run concurrently (a lost
-- race on CREATE TABLE is caught).
CREATE FUNCTION ensure_interaction_event_partitions(from_date date, months integer) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
  month_start date := date_trunc('month', from_date)::date;
  created integer := 0;
  name text;
BEGIN
  FOR i IN 0 .. months - 1 LOOP
    name := format('interaction_events_%s', to_char(month_start + make_interval(months => i), 'YYYYMM'));
    IF to_regclass(name) IS NULL THEN
      BEGIN
        EXECUTE format(
          'CREATE TABLE %I PARTITION OF interaction_events FOR VALUES FROM (%L) TO (%L)',
          name, month_start + make_interval(months => i), month_start + make_interval(months => i + 1));
        created := created + 1;
      EXCEPTION WHEN duplicate_table THEN
        NULL; -- another replica created it first
      END;
    END IF;
  END LOOP;
  RETURN created;
END;
$$;

-- One row per interaction, upserted in the same transaction as its events. Every column is merged
-- with an order-independent rule (min, max, sum, or "the winner by a total order"), so the row comes
-- out the same whatever order the events arrive in (see src/interactions/summary.ts).
CREATE TABLE interactions (
  mcp_id text NOT NULL,
  interaction_id text NOT NULL,
  -- The greatest session_id of any event, and the one of the winning STARTED event.
  any_session_id text NOT NULL DEFAULT '',
  started_session_id text NOT NULL DEFAULT '',
  first_event_at timestamptz NOT NULL,
  last_event_at timestamptz NOT NULL,
  first_seen_at timestamptz NOT NULL,
  last_seen_at timestamptz NOT NULL,
  event_count integer NOT NULL,
  -- The earliest STARTED event.
  started_at timestamptz,
  started_event_id text,
  request_type text NOT NULL DEFAULT '',
  user_id text NOT NULL DEFAULT '',
  -- Progress: how many, and the latest (by occurred_at, then event_id).
  progress_count integer NOT NULL DEFAULT 0,
  last_progress_at timestamptz,
  last_progress_event_id text,
  -- coordinator.v1.ProgressInfo, protobuf-encoded.
  last_progress bytea,
  -- The deciding terminal event: any FAILED beats any COMPLETED; among equals the latest wins.
  terminal_kind smallint,
  ended_at timestamptz,
  terminal_event_id text,
  success boolean,
  error_code text NOT NULL DEFAULT '',
  error_message text NOT NULL DEFAULT '',
  -- As reported by the MCP (result/error processing_time); NULL when not reported.
  reported_processing_ms double precision,
  -- The STARTED event's session, else the greatest one seen (order-independent either way).
  session_id text NOT NULL GENERATED ALWAYS AS (COALESCE(NULLIF(started_session_id, ''), any_session_id)) STORED,
  -- coordinator.v1.InteractionStatus: FAILED(4) > COMPLETED(3) > IN_PROGRESS(2) > STARTED(1).
  status smallint NOT NULL GENERATED ALWAYS AS (
    CASE WHEN terminal_kind = 4 THEN 4 WHEN terminal_kind = 3 THEN 3 WHEN progress_count > 0 THEN 2 ELSE 1 END
  ) STORED,
  -- Reported, else measured from start to end on the MCP's clock.
  processing_ms double precision GENERATED ALWAYS AS (
    COALESCE(reported_processing_ms, EXTRACT(epoch FROM (ended_at - started_at)) * 1000)
  ) STORED,
  PRIMARY KEY (mcp_id, interaction_id)
);
