/**
 * Runs work inside one database transaction on one pooled connection.
 */
import type { Pool, PoolClient } from "pg";

/**
 * Runs `fn` between BEGIN and COMMIT; any error rolls back and is rethrown.
 *
 * @param pool - where the connection comes from (it is released afterwards).
 * @param fn - the work; it must use the client it is given, not the pool.
 * @param begin - the statement that starts it, for another isolation level or a read-only
 *   transaction ("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY").
 */
export async function withTransaction<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>, begin = "BEGIN"): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query(begin);
    const result = await fn(client);
    await client.query("COMMIT");
    return result;
  } catch (error) {
    // A failed ROLLBACK means the connection is broken; the original error is the one to report.
    await client.query("ROLLBACK").catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}
