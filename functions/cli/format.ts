/**
 * The CLI's JSON output helpers. Durations, relative times and tables are worded by the modules the
 * local status view shares (`core/duration.ts`, `core/text-table.ts`).
 */

/** ISO-8601 UTC, or `null` (JSON output keeps every key, absent values are `null`). */
export function isoOrNull(at: number | undefined): string | null {
  return at === undefined ? null : new Date(at).toISOString();
}
