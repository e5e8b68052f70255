/** A command line that cannot be run as typed; printed with a pointer to --help, exit status 2. */
export class UsageError extends Error {
  override name = "UsageError";
}
