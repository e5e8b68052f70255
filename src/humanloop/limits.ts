/**
 * The server-side terms of CreateDecision: the timeout range, the file size cap and where callbacks
 * may go. Server configuration, not part of a request; the defaults are the contract's numbers.
 */

/** What a decision request may ask for, as configured on the server. */
export interface DecisionLimits {
  /** Shortest timeout a request may set (ms). */
  minTimeoutMs: number;
  /** Longest timeout a request may set (ms); also the cap of ExtendDeadline. */
  maxTimeoutMs: number;
  /** Timeout of a request that sets none (ms). */
  defaultTimeoutMs: number;
  /**
   * Largest single file an answer may upload (bytes): what fits the server's message size limit.
   * A spec's max_bytes of 0 means 10 MiB lowered to this; a larger max_bytes is refused.
   */
  maxFileBytes: number;
  /**
   * Hosts callback_url may point to: exact host names ("hooks.example.com") or suffix patterns
   * ("*.example.com", any subdomain, not the apex). Empty: no callbacks at all.
   */
  callbackAllowlist: string[];
  /** Whether callback_url may use plain http (test setups); https only otherwise. */
  allowHttpCallbacks: boolean;
  /**
   * Whether a callback host name may resolve to loopback, private or link-local addresses.
   * Off: only public addresses are connected to (no DNS-rebinding into the internal network).
   */
  allowPrivateCallbackAddresses: boolean;
}

/** 10 MiB: the size a file_upload spec's max_bytes of 0 stands for (before the server cap). */
export const DEFAULT_SPEC_MAX_FILE_BYTES = 10 * 1024 * 1024;

/** The defaults documented in the contract: 1 s to 30 days, 1 h, 10 MiB, no callbacks, https only. */
export const DEFAULT_DECISION_LIMITS: DecisionLimits = {
  minTimeoutMs: 1_000,
  maxTimeoutMs: 30 * 24 * 60 * 60 * 1_000,
  defaultTimeoutMs: 60 * 60 * 1_000,
  maxFileBytes: DEFAULT_SPEC_MAX_FILE_BYTES,
  callbackAllowlist: [],
  allowHttpCallbacks: false,
  allowPrivateCallbackAddresses: false,
};
