/**
 * The database watchdog: health follows whether PostgreSQL answers, so load balancers and
 * clients steer away from a replica that cannot store anything.
 */
import type { Logger } from "pino";
import type { Database } from "./store/open.js";
import { checkDatabase } from "./store/pool.js";
import { ServingStatus, type HealthState } from "./transport/health.js";
import type { Lifecycle } from "./transport/lifecycle.js";
import { withinTime } from "./within-time.js";

/**
 * Flips health to NOT_SERVING while the database is unreachable, and back when it returns. One
 * check at a time, each bounded by the interval: a hung database must not pile up checks that
 * hold pool connections (the key lookups need them), and a check that does not answer in time
 * counts as unreachable.
 *
 * @returns the timer (unref'ed); clearInterval() it at shutdown.
 */
export function watchDatabase(database: Database, health: HealthState, lifecycle: Lifecycle, logger: Logger, intervalMs: number): NodeJS.Timeout {
  let reachable = true;
  let checking = false;
  const report = (ok: boolean) => {
    if (ok === reachable || lifecycle.shuttingDown.aborted) return;
    reachable = ok;
    health.setAll(ok ? ServingStatus.SERVING : ServingStatus.NOT_SERVING);
    if (ok) logger.info("database reachable again; SERVING");
    else logger.error("database unreachable; NOT_SERVING");
  };
  const timer = setInterval(() => {
    // The previous check still holds its connection: do not take another one.
    if (checking) return report(false);
    checking = true;
    const check = checkDatabase(database.pool).then(() => true, () => false);
    void check.finally(() => (checking = false));
    void withinTime(check, intervalMs).then((ok) => report(ok ?? false));
  }, intervalMs);
  timer.unref();
  return timer;
}
