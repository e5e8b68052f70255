/**
 * The privacy policy as configured: `--privacy request.user_id=hash,error.data=encrypt,...`.
 */
import { PRIVACY_FIELDS, supportedPaths, type FieldSpec } from "./fields.js";

/** What happens to a field at ingest, before anything is written. */
export type PrivacyAction = "drop" | "hash" | "encrypt";

const ACTIONS: readonly PrivacyAction[] = ["drop", "hash", "encrypt"];

/** One rule: a field (or one top-level key of a Struct field) and its action. */
export interface PrivacyRule {
  field: FieldSpec;
  /** For a Struct field: the one top-level key the rule is about; undefined: the whole Struct. */
  key: string | undefined;
  action: PrivacyAction;
}

/** The policy when none is configured: user ids are stored as keyed hashes. */
export const DEFAULT_PRIVACY_POLICY = "request.user_id=hash";

/** A policy that cannot be parsed; the message says which rule and why (never a value). */
export class PrivacyPolicyError extends Error {
  override name = "PrivacyPolicyError";
}

/**
 * Parses a policy: comma-separated `path=action` rules, or `none` for no rules.
 *
 * @throws PrivacyPolicyError for an unknown path or action, a nested Struct key, or a path given twice.
 */
export function parsePrivacyPolicy(raw: string): PrivacyRule[] {
  const text = raw.trim();
  if (text.toLowerCase() === "none") return [];
  if (text === "") throw new PrivacyPolicyError(`is empty; list rules like ${DEFAULT_PRIVACY_POLICY},error.data=encrypt, or write none`);
  const rules: PrivacyRule[] = [];
  const seen = new Set<string>();
  for (const part of text.split(",")) {
    const rule = part.trim();
    const match = /^([^=\s]+)\s*=\s*([a-z]+)$/i.exec(rule);
    if (!match) throw new PrivacyPolicyError(`rule "${rule}" is not path=action (e.g. request.user_id=hash)`);
    const path = match[1]!;
    const action = match[2]!.toLowerCase() as PrivacyAction;
    if (!ACTIONS.includes(action)) throw new PrivacyPolicyError(`rule "${rule}": unknown action "${match[2]}" (drop, hash or encrypt)`);
    if (seen.has(path)) throw new PrivacyPolicyError(`rule "${rule}": ${path} is listed twice`);
    seen.add(path);
    rules.push({ ...resolvePath(path, rule), action });
  }
  return rules;
}

/** Whether a policy uses `action` anywhere. */
export function usesAction(rules: readonly PrivacyRule[], action: PrivacyAction): boolean {
  return rules.some((r) => r.action === action);
}

/** A rule as the policy string writes it (for logs and tests). */
export function ruleText(rule: PrivacyRule): string {
  return `${rule.field.path}${rule.key === undefined ? "" : `.${rule.key}`}=${rule.action}`;
}

function resolvePath(path: string, rule: string): { field: FieldSpec; key: string | undefined } {
  const exact = PRIVACY_FIELDS.find((f) => f.path === path);
  if (exact) return { field: exact, key: undefined };
  const struct = PRIVACY_FIELDS.find((f) => f.kind === "struct" && path.startsWith(`${f.path}.`));
  if (struct) {
    const key = path.slice(struct.path.length + 1);
    // Only top-level keys: a nested path would need a path language, and a key with a dot in it
    // would be ambiguous with one.
    if (key === "") throw new PrivacyPolicyError(`rule "${rule}": the key after ${struct.path}. is missing`);
    if (key.includes(".")) {
      throw new PrivacyPolicyError(`rule "${rule}": only top-level keys of ${struct.path} can be named (${struct.path}.<key>); "${key}" is nested`);
    }
    return { field: struct, key };
  }
  throw new PrivacyPolicyError(`rule "${rule}": unknown field "${path}"; supported: ${supportedPaths()}`);
}
