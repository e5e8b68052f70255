-- The log manager's read side: listing interactions, and the audit of every read of
-- interaction data.

-- ListInteractions: newest first by first_seen_at, keyset-paginated on (first_seen_at, mcp_id,
-- interaction_id). first_seen_at is the earliest arrival of any of the interaction's events and
-- never changes once the row exists, so pages stay stable while events keep arriving.
CREATE INDEX interactions_first_seen_idx ON interactions (first_seen_at DESC, mcp_id DESC, interaction_id DESC);

-- The same listing for one MCP (the common filter).
CREATE INDEX interactions_mcp_first_seen_idx ON interactions (mcp_id, first_seen_at DESC, interaction_id DESC);

-- GetInteraction without mcp_id: find the MCPs that used an interaction id.
CREATE INDEX interactions_interaction_id_idx ON interactions (interaction_id);

-- Who read interaction data, when, through which method and with which filter (the seeds'
-- "audit every data access"). Append-only: rows are never updated or deleted by the server.
CREATE TABLE access_audit (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at timestamptz NOT NULL DEFAULT now(),
  principal text NOT NULL,
  role text NOT NULL,
  -- The full gRPC method name: "/coordinator.v1.InteractionService/ListInteractions".
  method text NOT NULL,
  -- The request as protobuf JSON (filters, ids, page token).
  request jsonb NOT NULL,
  -- Whether encrypted fields were returned decrypted.
  decrypted boolean NOT NULL DEFAULT false
);

CREATE INDEX access_audit_at_idx ON access_audit (at DESC, id DESC);
CREATE INDEX access_audit_principal_idx ON access_audit (principal, at DESC, id DESC);

-- One refusal for every append-only table (the message names the table).
CREATE FUNCTION refuse_change_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% is append-only (% refused)', TG_TABLE_NAME, TG_OP USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER access_audit_append_only BEFORE UPDATE OR DELETE ON access_audit
  FOR EACH ROW EXECUTE FUNCTION refuse_change_append_only();

-- decision_audit had a function of its own doing the same: it now uses the shared one.
DROP TRIGGER decision_audit_append_only ON decision_audit;
CREATE TRIGGER decision_audit_append_only BEFORE UPDATE OR DELETE ON decision_audit
  FOR EACH ROW EXECUTE FUNCTION refuse_change_append_only();
DROP FUNCTION decision_audit_append_only();
