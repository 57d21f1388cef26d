/**
 * How a duration and a time relative to `now` are written for people (the CLI's output, the local
 * runner's status view). `now` is injected, so the wording is tested with a fake clock.
 */

/** `54m 10s`, `9s`, `2h 5m`, `8d 8h`; negative durations are given by the caller's wording. */
export function formatDuration(ms: number): string {
  const seconds = Math.max(0, Math.round(ms / 1000));
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m ${seconds % 60}s`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours}h ${minutes % 60}m`;
  return `${Math.floor(hours / 24)}d ${hours % 24}h`;
}

/** `54m 10s`, `expired 3m 0s ago`, or `-` when unknown. */
export function expiresIn(expiresAt: number | undefined, now: number): string {
  if (expiresAt === undefined) return '-';
  return expiresAt > now ? formatDuration(expiresAt - now) : `expired ${formatDuration(now - expiresAt)} ago`;
}

/** `3m 10s ago`, `in 5s` for a time ahead, or `fallback` when the time is unknown. */
export function ago(at: number | undefined, now: number, fallback = 'never'): string {
  if (at === undefined) return fallback;
  return at > now ? `in ${formatDuration(at - now)}` : `${formatDuration(now - at)} ago`;
}
