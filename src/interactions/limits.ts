/**
 * The terms of ingest: what a client may send and how the server paces it. One object, shared by
 * the stream protocol (Welcome), ReportInteractions, and RegisterMcp's McpConfig, so every place
 * tells a client the same numbers.
 */

/** Ingest limits and timings; every field has a default (see {@link DEFAULT_INGEST_LIMITS}). */
export interface IngestLimits {
  /** Window granted when Hello asks for 0. */
  defaultMaxInFlight: number;
  /** Largest window granted, whatever Hello asks. */
  maxInFlight: number;
  /** How often each side must send something on an idle stream (ms). */
  heartbeatIntervalMs: number;
  /** A stream silent for this many heartbeat intervals is closed. */
  silentIntervalsBeforeClose: number;
  /** Encoded size limit of an event's detail, and separately of its attributes (bytes). */
  maxPayloadBytes: number;
  /** Events per ReportInteractions call. */
  maxReportEvents: number;
  /** After Drain, how long a client has to half-close before the stream is ended (ms). */
  drainGraceMs: number;
  /** The reconnect_after sent with Drain (ms). */
  reconnectAfterMs: number;
  /** How often an open stream re-checks its API key (revocation, expiry) (ms). */
  keyRecheckMs: number;
  /** How far in the future occurred_at may be (ms). */
  maxClockSkewMs: number;
  /** Longest id (event_id, interaction_id, session_id, mcp_id), in characters. */
  maxIdLength: number;
}

/** The defaults documented in the contract's comments (proto/coordinator/v1). */
export const DEFAULT_INGEST_LIMITS: IngestLimits = {
  defaultMaxInFlight: 1_000,
  maxInFlight: 10_000,
  heartbeatIntervalMs: 10_000,
  silentIntervalsBeforeClose: 3,
  maxPayloadBytes: 64 * 1024,
  maxReportEvents: 1_000,
  drainGraceMs: 5_000,
  reconnectAfterMs: 1_000,
  // With the 5 s key cache and the 1 s sweep, a revoked key ends its streams within 10 s.
  keyRecheckMs: 3_000,
  maxClockSkewMs: 5 * 60_000,
  maxIdLength: 128,
};
