/**
 * The network edge of every provider: a fetch whose failures become `network_error`/`timeout`, and a body
 * reader that honours the abort signal until the last byte (a server may send headers and then stall).
 */
import { ProviderError } from '../core/errors.js';
import { MAX_BODY_BYTES, type RawResponse } from './response.js';

/** The fetch a provider uses; tests inject a fake one. */
export type FetchFunction = typeof fetch;

/** A short, secret-free name of what went wrong underneath (`ECONNREFUSED`, `TypeError`). */
function failureDetail(error: unknown): string {
  for (let node = error, depth = 0; node !== null && typeof node === 'object' && depth < 4; depth++) {
    const code = (node as { code?: unknown }).code;
    if (typeof code === 'string' && /^[A-Z][A-Z0-9_]{1,40}$/.test(code)) return code;
    node = (node as { cause?: unknown }).cause;
  }
  return error instanceof Error ? error.name : typeof error;
}

function isAbortError(error: unknown): boolean {
  return error instanceof Error && (error.name === 'AbortError' || error.name === 'TimeoutError');
}

/**
 * Failures that happen before a byte of the request leaves: no connection was made, so the server
 * cannot have acted on it (undici's and node's codes).
 */
const NOT_SENT_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
  'ERR_INVALID_URL',
]);

/**
 * What a failed fetch or body read becomes: `timeout` when the signal fired (or the fetch itself gave
 * up with an abort), `network_error` otherwise (fetch rejects with a `TypeError` for refused or reset
 * connections, DNS failures and bodies cut short). Both are transient. Both say whether the server
 * may have acted on the request (`outcomeUnknown`): a grant that rotates its refresh token must not
 * replay it blindly then.
 */
export function toTransportError(error: unknown, signal: AbortSignal): ProviderError {
  if (error instanceof ProviderError) return error;
  if (signal.aborted || isAbortError(error)) {
    return new ProviderError(
      'Token endpoint did not answer before the request was aborted',
      'timeout',
      'transient',
      {
        outcomeUnknown: true,
        cause: signal.aborted ? signal.reason : error,
      },
    );
  }
  const detail = failureDetail(error);
  return new ProviderError(
    `Token endpoint request failed: network error (${detail})`,
    'network_error',
    'transient',
    { outcomeUnknown: !NOT_SENT_CODES.has(detail), cause: error },
  );
}

/** `fetch` with its rejections translated by {@link toTransportError}. */
export function guardedFetch(fetchFunction: FetchFunction, signal: AbortSignal): FetchFunction {
  return async (input, init) => {
    try {
      return await fetchFunction(input, init);
    } catch (error) {
      throw toTransportError(error, signal);
    }
  };
}

/**
 * Read a response into a {@link RawResponse}. The signal is honoured while reading: a stalled body ends
 * in `timeout`. At most {@link MAX_BODY_BYTES} are kept; the rest is discarded (a token response that
 * large is malformed anyway, and the truncated text then fails JSON parsing).
 */
export async function readResponse(response: Response, signal: AbortSignal): Promise<RawResponse> {
  const raw = { status: response.status, headers: response.headers };
  const body = response.body;
  if (body === null) return { ...raw, bodyText: '' };
  if (signal.aborted) {
    body.cancel().catch(() => {});
    throw toTransportError(signal.reason, signal);
  }
  const reader = body.getReader();
  let onAbort = (): void => {};
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(toTransportError(signal.reason, signal));
    signal.addEventListener('abort', onAbort, { once: true });
  });
  aborted.catch(() => {}); // observed through Promise.race below; never an unhandled rejection
  const decoder = new TextDecoder();
  let bodyText = '';
  let bytesRead = 0;
  try {
    for (;;) {
      const chunk = await Promise.race([reader.read(), aborted]);
      if (chunk.done) break;
      const room = MAX_BODY_BYTES - bytesRead;
      bytesRead += chunk.value.byteLength;
      if (chunk.value.byteLength >= room) {
        bodyText += decoder.decode(chunk.value.subarray(0, room));
        reader.cancel().catch(() => {});
        return { ...raw, bodyText };
      }
      bodyText += decoder.decode(chunk.value, { stream: true });
    }
    return { ...raw, bodyText: bodyText + decoder.decode() };
  } catch (error) {
    reader.cancel().catch(() => {});
    throw toTransportError(error, signal);
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}
