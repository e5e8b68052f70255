/**
 * The rules of callback_url: where the coordinator will POST a final decision. The server makes
 * that request, so the allowlist is what keeps a request from aiming it at internal services.
 */
import { domainToASCII } from "node:url";
import { InvalidFieldError } from "./errors.js";
import type { DecisionLimits } from "./limits.js";
import { quote } from "./text-rules.js";

/**
 * Checks a callback URL against the server's rules: a URL, https (http only when allowed), no
 * credentials, and a host on the allowlist. An empty URL (no callback) passes.
 *
 * @param path - the URL's path in the request, "callback_url".
 * @throws InvalidFieldError naming `path`.
 */
export function checkCallbackUrl(path: string, value: string, limits: Pick<DecisionLimits, "callbackAllowlist" | "allowHttpCallbacks">): void {
  if (value === "") return;
  if (limits.callbackAllowlist.length === 0) {
    throw new InvalidFieldError(path, "callbacks are not allowed on this server (its callback allowlist is empty); leave callback_url empty");
  }
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InvalidFieldError(path, `${quote(value)} is not a valid absolute URL`);
  }
  if (url.protocol !== "https:" && !(url.protocol === "http:" && limits.allowHttpCallbacks)) {
    throw new InvalidFieldError(path, limits.allowHttpCallbacks ? "must use https or http" : "must use https");
  }
  // Secrets in a URL end up in logs and in every returned Decision; the callback is signed instead.
  if (url.username !== "" || url.password !== "") throw new InvalidFieldError(path, "must not contain credentials (user:password@)");
  const host = normalizeHost(url.hostname);
  if (!limits.callbackAllowlist.some((entry) => hostMatches(entry, host))) {
    throw new InvalidFieldError(path, `host ${quote(host)} is not on the server's callback allowlist`);
  }
}

/** Lower case, punycode, no trailing dot: "Example.COM." and "example.com" are one host. */
function normalizeHost(host: string): string {
  const lower = host.toLowerCase().replace(/\.$/, "");
  // IP literals (and anything domainToASCII refuses) are compared as they are.
  return domainToASCII(lower) || lower;
}

/** Whether an allowlist entry (exact host, or "*.suffix" for any subdomain) admits a host. */
function hostMatches(entry: string, host: string): boolean {
  const trimmed = entry.trim();
  if (trimmed.startsWith("*.")) {
    const suffix = normalizeHost(trimmed.slice(2));
    return suffix !== "" && host.endsWith(`.${suffix}`);
  }
  return normalizeHost(trimmed) === host;
}
