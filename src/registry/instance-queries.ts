/**
 * SQL for coordinator_instances: which replicas are alive. One function per statement.
 */
import type { Pool, PoolClient } from "pg";

type Queryable = Pool | PoolClient;

/** A coordinator replica's identity, as stored in coordinator_instances. */
export interface InstanceRow {
  instanceId: string;
  hostname: string;
  pid: number;
  version: string;
}

/** Records this replica as starting (again): a restart under the same id gets a fresh row. */
export async function upsertInstance(db: Queryable, instance: InstanceRow): Promise<void> {
  // Upsert, not insert: a replica restarted under the same instance id takes its row back.
  await db.query(
    `INSERT INTO coordinator_instances (instance_id, hostname, pid, version)
     VALUES ($1, $2, $3, $4)
     ON CONFLICT (instance_id) DO UPDATE
       SET hostname = EXCLUDED.hostname, pid = EXCLUDED.pid, version = EXCLUDED.version,
           started_at = now(), last_seen = now()`,
    [instance.instanceId, instance.hostname, instance.pid, instance.version],
  );
}

/**
 * Proves this replica is alive. Re-creates its row if another replica judged it stale and deleted
 * it (a long pause, a database outage), so it stops being invisible.
 *
 * @returns true when the row had to be re-created (its connection rows were cascaded away).
 */
export async function heartbeatInstance(db: Queryable, instance: InstanceRow): Promise<boolean> {
  // xmax = 0 only on a freshly inserted row version: tells "re-created" from "updated" in one trip.
  const { rows } = await db.query<{ inserted: boolean }>(
    `INSERT INTO coordinator_instances (instance_id, hostname, pid, version)
     VALUES ($1, $2, $3, $4)
     ON CONFLICT (instance_id) DO UPDATE SET last_seen = now()
     RETURNING (xmax = 0) AS inserted`,
    [instance.instanceId, instance.hostname, instance.pid, instance.version],
  );
  return rows[0]?.inserted ?? false;
}

/** Deletes replicas that stopped proving they are alive (crashed); their connections cascade. */
export async function deleteStaleInstances(db: Queryable, staleAfterMs: number, selfId: string): Promise<string[]> {
  // Every replica runs this; it is idempotent, so no leader is needed. Never deletes itself: a
  // replica whose own heartbeat lagged is alive by definition and re-asserts itself instead.
  const { rows } = await db.query<{ instance_id: string }>(
    `DELETE FROM coordinator_instances
     WHERE last_seen < now() - $1 * interval '1 millisecond' AND instance_id <> $2
     RETURNING instance_id`,
    [staleAfterMs, selfId],
  );
  return rows.map((row) => row.instance_id);
}

/** Deletes this replica's row at a clean shutdown; its connection rows cascade. */
export async function deleteInstance(db: Queryable, instanceId: string): Promise<void> {
  await db.query("DELETE FROM coordinator_instances WHERE instance_id = $1", [instanceId]);
}
