/**
 * Waiting for something with a limit: shutdown grace periods, health checks and GetStats's
 * database totals all need "the answer if it comes in time, else go on without it".
 */

/**
 * What `promise` resolves with if it settles within `ms`; undefined if it rejects or takes
 * longer (it is not cancelled). The timer does not keep the process alive.
 */
export async function withinTime<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((resolve) => (timer = setTimeout(resolve, ms, undefined).unref()));
  try {
    return await Promise.race([promise.catch(() => undefined), late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Whether `promise` settles (resolves or rejects) within `ms`. */
export async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  return (await withinTime(promise.then(() => true, () => true), ms)) ?? false;
}
