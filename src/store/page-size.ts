/**
 * The page-size rule every list RPC shares: 0 asks for the default, larger values are clamped to
 * the cap (the contracts document both numbers), negative ones are refused.
 */

/** Page size when a request says 0. */
export const DEFAULT_PAGE_SIZE = 50;
/** Larger page sizes are treated as this. */
export const MAX_PAGE_SIZE = 500;

/**
 * The page size to use for `requested`.
 *
 * @param refuse - builds the caller's own INVALID_ARGUMENT error for "page_size" from the problem.
 * @throws what `refuse` returns, when `requested` is negative or not a whole number.
 */
export function pageSizeOf(requested: number, refuse: (problem: string) => Error): number {
  if (!Number.isInteger(requested) || requested < 0) throw refuse(`must be 0 (default ${DEFAULT_PAGE_SIZE}) or more; got ${requested}`);
  return requested === 0 ? DEFAULT_PAGE_SIZE : Math.min(requested, MAX_PAGE_SIZE);
}
