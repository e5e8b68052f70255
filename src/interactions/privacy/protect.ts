/**
 * Applying the privacy policy to an event at ingest, before it is encoded and written: the stored
 * payload and the summary columns taken from it (user_id, error_message, last_progress) then hold
 * the same protected values.
 *
 * The policy is compiled once into a short list of operations per detail case, so an event pays
 * only for the rules about its own kind of detail, and nothing when it lacks the field.
 */
import type { JsonObject, JsonValue } from "@bufbuild/protobuf";
import type { InteractionEvent } from "../../../gen/coordinator/v1/interaction_event_pb.js";
import { canonicalJson } from "../../humanloop/canonical-json.js";
import { IngestError } from "../stream-end.js";
import type { DetailCase } from "./fields.js";
import type { FieldCipher, FieldHasher } from "./markers.js";
import type { PrivacyAction, PrivacyRule } from "./policy.js";
import { CHANGED_ATTRIBUTES, CHANGED_DETAIL_STRUCT, CHANGED_DETAIL_TEXT } from "./splice.js";

interface TextOp {
  kind: "text";
  property: string;
  path: string;
  action: PrivacyAction;
}

interface StructOp {
  kind: "struct";
  property: string;
  path: string;
  /** The rule for the whole Struct: applies to each top-level key without a rule of its own. */
  whole: PrivacyAction | undefined;
  /** Rules for single keys: key, action, and the key's path (the AAD of its ciphertext). */
  keys: { key: string; action: PrivacyAction; path: string }[];
}

type Op = TextOp | StructOp;

/** Where the protector gets its keys; the hash key may arrive after start (from the database). */
export interface ProtectorKeys {
  cipher: FieldCipher;
  hasher: () => FieldHasher | undefined;
}

/** Holders of a detail message's or the event's fields, by name. */
type Holder = Record<string, unknown>;

/** See the module comment. */
export class EventProtector {
  readonly #byDetail = new Map<DetailCase, Op[]>();
  readonly #onEvent: Op[];
  readonly #keys: ProtectorKeys;

  constructor(rules: readonly PrivacyRule[], keys: ProtectorKeys) {
    this.#keys = keys;
    const ops = new Map<DetailCase | "event", Op[]>();
    for (const rule of rules) {
      const holder = rule.field.detail ?? "event";
      const list = ops.get(holder) ?? [];
      ops.set(holder, list);
      if (rule.field.kind === "text") {
        list.push({ kind: "text", property: rule.field.property, path: rule.field.path, action: rule.action });
        continue;
      }
      let op = list.find((o): o is StructOp => o.kind === "struct" && o.property === rule.field.property);
      if (!op) list.push((op = { kind: "struct", property: rule.field.property, path: rule.field.path, whole: undefined, keys: [] }));
      if (rule.key === undefined) op.whole = rule.action;
      else op.keys.push({ key: rule.key, action: rule.action, path: `${rule.field.path}.${rule.key}` });
    }
    for (const [holder, list] of ops) if (holder !== "event") this.#byDetail.set(holder, list);
    this.#onEvent = ops.get("event") ?? [];
  }

  /** Whether the policy has any rule (with none, protect() never changes an event). */
  get active(): boolean {
    return this.#byDetail.size > 0 || this.#onEvent.length > 0;
  }

  /**
   * Applies the policy to `event` in place.
   *
   * @returns which parts changed: CHANGED_DETAIL_TEXT, CHANGED_DETAIL_STRUCT and
   *   CHANGED_ATTRIBUTES bits, 0 for none (then the event's encoding still matches it).
   * @throws IngestError unavailable while the hash key is still being loaded at start.
   */
  protect(event: InteractionEvent): number {
    let changed = 0;
    const detail = event.detail;
    if (detail.case !== undefined) {
      const ops = this.#byDetail.get(detail.case);
      if (ops) changed = this.#apply(ops, detail.value as unknown as Holder);
    }
    // The event's own fields in the table: attributes only.
    if (this.#onEvent.length > 0 && this.#apply(this.#onEvent, event as unknown as Holder)) changed |= CHANGED_ATTRIBUTES;
    return changed;
  }

  /** @returns CHANGED_DETAIL_TEXT and/or CHANGED_DETAIL_STRUCT for what changed. */
  #apply(ops: readonly Op[], holder: Holder): number {
    let changed = 0;
    for (const op of ops) {
      if (op.kind === "text") {
        const value = holder[op.property] as string;
        if (value === "") continue;
        holder[op.property] = op.action === "drop" ? "" : op.action === "hash" ? this.#hasher().hash(value) : this.#keys.cipher.encrypt(value, op.path);
        changed |= CHANGED_DETAIL_TEXT;
        continue;
      }
      const struct = holder[op.property] as JsonObject | undefined;
      if (!struct) continue;
      if (op.whole === "drop") {
        holder[op.property] = undefined;
        changed |= CHANGED_DETAIL_STRUCT;
        continue;
      }
      let structChanged = false;
      for (const { key, action, path } of op.keys) {
        if (Object.hasOwn(struct, key)) structChanged = this.#applyValue(struct, key, action, path) || structChanged;
      }
      if (op.whole !== undefined) {
        for (const key of Object.keys(struct)) {
          if (op.keys.some((k) => k.key === key)) continue;
          structChanged = this.#applyValue(struct, key, op.whole, `${op.path}.${key}`) || structChanged;
        }
      }
      if (structChanged) changed |= CHANGED_DETAIL_STRUCT;
    }
    return changed;
  }

  /** One top-level value of a Struct: strings as they are, other values as their JSON. */
  #applyValue(struct: JsonObject, key: string, action: PrivacyAction, path: string): boolean {
    if (action === "drop") {
      delete struct[key];
      return true;
    }
    const value: JsonValue | undefined = struct[key];
    // null says nothing to hide (and absent keys are not made up).
    if (value === null || value === undefined) return false;
    struct[key] =
      action === "hash"
        ? this.#hasher().hash(typeof value === "string" ? value : canonicalJson(value))
        : this.#keys.cipher.encrypt(JSON.stringify(value), path);
    return true;
  }

  #hasher(): FieldHasher {
    const hasher = this.#keys.hasher();
    // Only in the moment between listening and loading the stored hash key at start.
    if (!hasher) throw new IngestError("unavailable", "the coordinator is starting (privacy hash key not loaded yet); retry shortly", 1_000);
    return hasher;
  }
}
