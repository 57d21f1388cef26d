/**
 * The targets of issue #17 ("Cold start and call budget"), stated next to the measured figures so
 * that a run says at once what is met and by how much the rest is missed. Pure: no I/O.
 */

/** Consumer cold start to first token, and the read function's, as a ratio to Powertools. */
export const COLD_START_RATIO_TARGET = 0.5;

/** Bundle sizes, SDK external, minified (1 KB = 1,000 B, as the client's budgets). */
export const BUNDLE_BYTES_TARGETS = { read: 40_000, refresh: 80_000 } as const;

/** AWS calls per invocation kind. */
export const CALL_TARGETS = {
  scheduled: { atMost: 6 },
  rotated: { atMost: 8 },
  notDueTick: { exactly: 1 },
} as const;

export type CallTarget = { readonly atMost: number } | { readonly exactly: number };

/** How a target reads in a table: `≤ 6`, `1`. */
export function describeTarget(target: CallTarget): string {
  return 'atMost' in target ? `≤ ${target.atMost}` : String(target.exactly);
}

/**
 * `meets (0.43× ≤ 0.50×)` or `misses by 0.42× (0.92× > 0.50×)`; `–` when nothing was measured.
 * @param format how a value (and the gap) is printed
 */
export function atMostVerdict(measured: number, limit: number, format: (value: number) => string): string {
  if (!Number.isFinite(measured)) return '–';
  if (measured <= limit) return `meets (${format(measured)} ≤ ${format(limit)})`;
  return `misses by ${format(measured - limit)} (${format(measured)} > ${format(limit)})`;
}

/** The verdict of a call count against its target. */
export function callVerdict(measured: number, target: CallTarget): string {
  if ('atMost' in target) return atMostVerdict(measured, target.atMost, String);
  if (!Number.isFinite(measured)) return '–';
  return measured === target.exactly
    ? `meets (${measured})`
    : `misses (${measured}, target ${target.exactly})`;
}
