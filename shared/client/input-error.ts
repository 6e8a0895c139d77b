/**
 * An error caused by what the caller gave (a file that cannot be used, an argument out of range), not by an agent.
 * Client-library code throws it instead of the CLI's UsageError; the `fleetml` command exits 2 for either.
 */
export class InputError extends Error {
  override name = 'InputError';
}
