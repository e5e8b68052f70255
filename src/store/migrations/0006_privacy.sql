-- Secrets the coordinator makes for itself when none is configured, shared by every replica
-- through the database. Today one: the HMAC key of the privacy policy's "hash" action, made at
-- the first start that needs it while MCPC_HASH_KEY is unset (see the README's privacy section
-- for the trade-off: whoever can read this table can recompute the hashes).
CREATE TABLE coordinator_secrets (
  name text PRIMARY KEY,
  value bytea NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
