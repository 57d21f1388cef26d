/**
 * The one `Retry-After` parser: the refresher reads a provider's answer with it
 * (`functions/providers/response.ts`), the consumer client the read function's. It lives in the client
 * because the client package is compiled from `functions/client` alone; it imports nothing.
 */

/** `Retry-After` values are capped to this (1 h): the refresher's own backoff takes over beyond it. */
export const MAX_RETRY_AFTER_SECONDS = 3600;

/** RFC 9110 §5.6.7 IMF-fixdate, the HTTP-date form senders must generate: `Sun, 06 Nov 1994 08:49:37 GMT`. */
const IMF_FIXDATE =
  /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT$/;

/**
 * `Retry-After` (RFC 9110 §10.2.3) in seconds: delay-seconds, or an HTTP-date (IMF-fixdate) taken
 * relative to `now` (epoch ms). A date in the past gives 0; both forms are capped at
 * {@link MAX_RETRY_AFTER_SECONDS}; anything else (absent, negative, fractional, another date form) is
 * ignored: `undefined`.
 */
export function parseRetryAfter(value: string | null | undefined, now: number): number | undefined {
  if (value === null || value === undefined) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Math.min(Number(text), MAX_RETRY_AFTER_SECONDS);
  // Only IMF-fixdate: Date.parse alone would read "-5" as a year.
  if (!IMF_FIXDATE.test(text)) return undefined;
  const at = Date.parse(text);
  if (Number.isNaN(at)) return undefined;
  return Math.min(Math.max(0, Math.ceil((at - now) / 1000)), MAX_RETRY_AFTER_SECONDS);
}
