-- The human loop: decisions workflows wait for, the answers people give, the append-only audit
-- trail, and callback deliveries.

-- Who a key acts for in the human loop (creator, responder, assignee names). Several keys (a
-- laptop, a CI job) may share one principal; NULL means the key's own id.
ALTER TABLE api_keys ADD COLUMN principal text CHECK (principal IS NULL OR length(principal) BETWEEN 1 AND 200);

-- Every change of any decision takes the next value: one order for all changes of all decisions.
-- Writers take DECISION_WRITE_LOCK (src/humanloop/decision-store.ts) before nextval and hold it to
-- commit, so revisions become visible in increasing order and a watcher resuming after revision R
-- never skips a change that committed late with a smaller number.
CREATE SEQUENCE decision_revision_seq;

CREATE TABLE decisions (
  id uuid PRIMARY KEY,
  -- The workflow's idempotency key, and the SHA-256 of the request it came with: the same key
  -- with another request is ALREADY_EXISTS.
  request_key text NOT NULL UNIQUE,
  request_sha256 bytea NOT NULL,
  workflow_id text NOT NULL,
  title text NOT NULL,
  message text NOT NULL DEFAULT '',
  -- coordinator.v1.DecisionSpec, protobuf-encoded.
  spec bytea NOT NULL,
  -- coordinator.v1.DecisionStatus: PENDING(1) COMPLETED(2) EXPIRED(3) CANCELLED(4).
  status smallint NOT NULL DEFAULT 1 CHECK (status BETWEEN 1 AND 4),
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  resolved_at timestamptz,
  updated_at timestamptz NOT NULL DEFAULT now(),
  -- The deciding response (coordinator.v1.DecisionResponse), and its action for statistics.
  outcome bytea,
  outcome_action smallint,
  defaulted boolean NOT NULL DEFAULT false,
  cancel_reason text NOT NULL DEFAULT '',
  cancelled_by text NOT NULL DEFAULT '',
  revision bigint NOT NULL,
  created_by text NOT NULL,
  assignees text[] NOT NULL DEFAULT '{}',
  -- coordinator.v1.ApprovalPolicy, protobuf-encoded (empty: any).
  approval bytea NOT NULL DEFAULT '',
  -- coordinator.v1.TimeoutPolicy.
  on_timeout smallint NOT NULL,
  -- coordinator.v1.DecisionResponse, protobuf-encoded; NULL when none was given.
  default_response bytea,
  forbid_creator_response boolean NOT NULL DEFAULT false,
  callback_url text NOT NULL DEFAULT '',
  -- The workflow's free-form context (google.protobuf.Struct as JSON); NULL when none was given.
  context jsonb,
  CONSTRAINT decisions_final_has_resolved_at CHECK ((status = 1) = (resolved_at IS NULL))
);

-- WatchDecisions catch-up: "every decision changed after revision R, in revision order".
CREATE UNIQUE INDEX decisions_revision_idx ON decisions (revision);
-- The expiry sweeper: pending decisions by deadline.
CREATE INDEX decisions_pending_expiry_idx ON decisions (expires_at) WHERE status = 1;
-- ListDecisions: newest first (keyset pagination on created_at, id), overall and per workflow.
CREATE INDEX decisions_created_idx ON decisions (created_at DESC, id DESC);
CREATE INDEX decisions_workflow_created_idx ON decisions (workflow_id, created_at DESC, id DESC);
-- The assignee filter.
CREATE INDEX decisions_assignees_idx ON decisions USING gin (assignees);

-- Every valid answer. One per principal and decision; response_key makes a retried Respond safe.
CREATE TABLE decision_answers (
  decision_id uuid NOT NULL REFERENCES decisions (id) ON DELETE CASCADE,
  responder text NOT NULL,
  responded_at timestamptz NOT NULL DEFAULT now(),
  -- coordinator.v1.ResponseAction, and the whole coordinator.v1.DecisionResponse.
  action smallint NOT NULL,
  response bytea NOT NULL,
  response_key text NOT NULL DEFAULT '',
  -- SHA-256 of the response as the client sent it: a retry with the same key must carry the same.
  response_sha256 bytea NOT NULL,
  -- Order of arrival within the decision (the deciding answer is the latest one counted).
  seq integer NOT NULL,
  PRIMARY KEY (decision_id, responder)
);

CREATE UNIQUE INDEX decision_answers_key_idx ON decision_answers (decision_id, response_key) WHERE response_key <> '';

-- The audit trail: one row per change (created, answered, expired, cancelled, extended) and per
-- callback attempt. Append-only: the trigger below refuses UPDATE and DELETE.
CREATE TABLE decision_audit (
  id bigserial PRIMARY KEY,
  decision_id uuid NOT NULL REFERENCES decisions (id),
  revision bigint NOT NULL,
  -- coordinator.v1.DecisionAuditAction.
  action smallint NOT NULL,
  -- The principal, or 'system' for the server (expiry, callbacks).
  actor text NOT NULL,
  at timestamptz NOT NULL DEFAULT clock_timestamp(),
  details jsonb NOT NULL DEFAULT '{}'
);

CREATE INDEX decision_audit_decision_idx ON decision_audit (decision_id, id);

CREATE FUNCTION decision_audit_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'decision_audit is append-only (% refused)', TG_OP USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER decision_audit_append_only BEFORE UPDATE OR DELETE ON decision_audit
  FOR EACH ROW EXECUTE FUNCTION decision_audit_append_only();

-- Callbacks due: one row per final decision with a callback_url, until delivered or given up.
CREATE TABLE decision_callbacks (
  decision_id uuid PRIMARY KEY REFERENCES decisions (id) ON DELETE CASCADE,
  -- The final revision whose state is delivered.
  revision bigint NOT NULL,
  url text NOT NULL,
  attempts integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  delivered_at timestamptz,
  given_up_at timestamptz,
  last_error text NOT NULL DEFAULT ''
);

-- The delivery worker: callbacks still due, by next attempt.
CREATE INDEX decision_callbacks_due_idx ON decision_callbacks (next_attempt_at) WHERE delivered_at IS NULL AND given_up_at IS NULL;

-- Secrets shared by every replica of one deployment (the callback signing key), made once.
CREATE TABLE deployment_secrets (
  name text PRIMARY KEY,
  value bytea NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
