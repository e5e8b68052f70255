/**
 * The protocol between the writers and the live tail (WatchInteractions), in one place:
 *
 * - A replica with at least one watcher holds a session-level SHARED advisory lock,
 *   {@link WATCHING_LOCK}, on its LISTEN connection. The lock goes away by itself when that
 *   connection or the process dies, so "is anyone watching anywhere" needs no table and nothing
 *   to clean up.
 * - Every replica's writer asks pg_locks about that lock once a second (watcher-presence.ts) and,
 *   while someone holds it, its batch statement also NOTIFYs {@link EVENTS_CHANNEL} with
 *   references to the events it newly stored. NOTIFY is delivered at commit, so only committed
 *   events are announced.
 * - Each notification is one {@link Announcement}: the batch's received_at and, per event,
 *   [mcp_id, interaction_id, event_id, kind, occurred_at]. Listeners filter on the references and
 *   read only the events their watchers want.
 */

/** The channel the writers notify on and the live tails LISTEN to. */
export const EVENTS_CHANNEL = "mcpc_interaction_events";

/**
 * The shared advisory lock a replica holds while it has watchers: two int4 keys, "mcpc" and
 * "wtch" in ASCII. In pg_locks: locktype 'advisory', classid 1835233379, objid 2004116328,
 * objsubid 2, mode ShareLock.
 */
export const WATCHING_LOCK = { key1: 1835233379, key2: 2004116328 } as const;

/**
 * References are packed into notifications by their byte offset: a reference starting before
 * this many bytes of the batch's references goes into the current chunk. A chunk therefore holds
 * at most this plus one reference (ids are at most 128 UTF-16 units, so under 400 bytes each in
 * JSON, and a reference with its kind and occurred_at under 1,000 bytes), plus the received_at
 * wrapper: well under the 8,000 bytes Postgres allows a payload.
 */
export const NOTIFY_CHUNK_BYTES = 6_000;

/** How a writer learns whether anyone watches, and how long the answer is trusted. */
export interface PresenceTiming {
  /** How often each replica asks pg_locks (ms). Default 1 s. */
  refreshMs: number;
  /**
   * How long an answer is trusted, counted from when the question was sent (ms). Past it, the
   * writer announces its batches whatever the last answer said (as when the database is slow to
   * answer). Default 2 s.
   */
  validMs: number;
}

/** The defaults: one pg_locks query per second per replica. */
export const DEFAULT_PRESENCE_TIMING: PresenceTiming = { refreshMs: 1_000, validMs: 2_000 };

/**
 * Added to {@link PresenceTiming.validMs} before a new live tail calls itself live: covers the
 * clocks of two processes running at slightly different rates, and the time between a writer
 * reading its flag and sending its statement.
 */
export const LIVE_MARGIN_MS = 200;

/** One stored event as a notification names it. */
export interface EventRef {
  mcpId: string;
  interactionId: string;
  eventId: string;
  /** The coordinator.v1.EventKind number. */
  kind: number;
  /** The event's occurred_at as Postgres stored it (exact), to find it by the interaction index. */
  occurredAt: string;
}

/** One notification: events one batch stored, all with the batch's received_at. */
export interface Announcement {
  /** The batch's received_at as Postgres wrote it (microseconds and offset kept). */
  receivedAt: string;
  refs: EventRef[];
}

/**
 * Reads a notification's payload ({"t": received_at, "e": [[mcp_id, interaction_id, event_id,
 * kind, occurred_at], ...]}, written by the writer's statement).
 *
 * @returns undefined when the payload is not one (nothing else should notify this channel).
 */
export function parseAnnouncement(payload: string | undefined): Announcement | undefined {
  let value: unknown;
  try {
    value = JSON.parse(payload ?? "");
  } catch {
    return undefined;
  }
  if (typeof value !== "object" || value === null) return undefined;
  const { t, e } = value as { t?: unknown; e?: unknown };
  if (typeof t !== "string" || !Array.isArray(e)) return undefined;
  const refs: EventRef[] = [];
  for (const ref of e) {
    if (!Array.isArray(ref) || ref.length !== 5) return undefined;
    const [mcpId, interactionId, eventId, kind, occurredAt] = ref as unknown[];
    if (typeof mcpId !== "string" || typeof interactionId !== "string" || typeof eventId !== "string" || typeof kind !== "number" || typeof occurredAt !== "string") {
      return undefined;
    }
    refs.push({ mcpId, interactionId, eventId, kind, occurredAt });
  }
  return { receivedAt: t, refs };
}
