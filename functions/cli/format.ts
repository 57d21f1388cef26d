/**
 * Small text helpers for the CLI's human output. Times are relative to an injected `now`, so the
 * output is tested with a fake clock.
 */
import { formatDuration } from '../local/status-view.js';

export { formatDuration };

/** `54m 10s`, `expired 3m 0s ago`, or `-` when unknown. */
export function expiresIn(expiresAt: number | undefined, now: number): string {
  if (expiresAt === undefined) return '-';
  return expiresAt > now ? formatDuration(expiresAt - now) : `expired ${formatDuration(now - expiresAt)} ago`;
}

/** `3m 10s ago`, or `fallback` when the time is unknown. */
export function ago(at: number | undefined, now: number, fallback = 'never'): string {
  if (at === undefined) return fallback;
  return at > now ? `in ${formatDuration(at - now)}` : `${formatDuration(now - at)} ago`;
}

/** ISO-8601 UTC, or `null` (JSON output keeps every key, absent values are `null`). */
export function isoOrNull(at: number | undefined): string | null {
  return at === undefined ? null : new Date(at).toISOString();
}

/** A plain-text table: a header line, then one line per row, columns two spaces apart. */
export function renderTable(headers: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const widths = headers.map((title, i) =>
    Math.max(title.length, ...rows.map((row) => (row[i] ?? '').length)),
  );
  const line = (values: readonly string[]) =>
    values
      .map((value, i) => value.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)];
}
