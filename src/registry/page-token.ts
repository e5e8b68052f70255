/**
 * ListMcps page tokens: opaque to clients, base64url JSON of the last mcp_id returned and the
 * filters of the listing. Keeping the filters lets the server refuse a token replayed with other
 * filters (the contract's INVALID_ARGUMENT "page_token") instead of silently skipping MCPs.
 */
import { RegistryError } from "./types.js";
import { MCP_ID_PATTERN } from "./validation.js";

/** The filters a token is bound to. */
export interface PageFilters {
  capability: string;
  connectedOnly: boolean;
}

/** Makes the token for the page after `lastMcpId`. */
export function encodePageToken(lastMcpId: string, filters: PageFilters): string {
  return Buffer.from(JSON.stringify([lastMcpId, filters.capability, filters.connectedOnly])).toString("base64url");
}

/**
 * Reads a token back.
 *
 * @returns the mcp_id to continue after, or undefined for "" (the first page).
 * @throws RegistryError (invalid, "page_token") when the token is damaged or was made for other filters.
 */
export function decodePageToken(token: string, filters: PageFilters): string | undefined {
  if (token === "") return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
  } catch {
    parsed = undefined;
  }
  if (
    !Array.isArray(parsed) ||
    parsed.length !== 3 ||
    typeof parsed[0] !== "string" ||
    !MCP_ID_PATTERN.test(parsed[0]) ||
    typeof parsed[1] !== "string" ||
    typeof parsed[2] !== "boolean"
  ) {
    throw new RegistryError("invalid", "page_token", "is not a token from ListMcps; send the next_page_token of a previous call, or empty for the first page");
  }
  if (parsed[1] !== filters.capability || parsed[2] !== filters.connectedOnly) {
    throw new RegistryError("invalid", "page_token", "was made for other filters (capability, connected_only); repeat the filters of the call that returned it");
  }
  return parsed[0];
}
