-- API keys. A key handed to a client is "mcpc_<id>_<secret>"; only the SHA-256 of the
-- secret is kept, so a leaked table (or backup) does not leak usable keys.
CREATE TABLE api_keys (
  -- Public id: printed in `keys list`, logs and audit rows. Never secret.
  id text PRIMARY KEY,
  secret_sha256 bytea NOT NULL CHECK (length(secret_sha256) = 32),
  role text NOT NULL CHECK (role IN ('mcp', 'workflow', 'operator', 'admin')),
  -- An mcp key can only act as this MCP (the mcp_id of its events comes from here).
  mcp_id text,
  -- Free text for the humans who manage keys ("billing-mcp prod").
  name text NOT NULL DEFAULT '',
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz,
  revoked_at timestamptz,
  CONSTRAINT api_keys_mcp_id_iff_mcp_role CHECK ((role = 'mcp') = (mcp_id IS NOT NULL))
);

-- "Is there a usable admin key?" is asked at every start (first-start bootstrap).
CREATE INDEX api_keys_role_idx ON api_keys (role) WHERE revoked_at IS NULL;
