/**
 * Sends a caller proof's `sts:GetCallerIdentity` request to STS with `fetch` (no SDK: the request is
 * already signed, by the caller) and reads the answer. As oauth4webapi pairs its calls: one function
 * makes the request ({@link sendCallerProof}), another reads the answer from plain values
 * ({@link parseStsAnswer}), so the parsing is tested without a network.
 *
 * The request goes only where the checked proof says, which is the STS endpoint the read function
 * trusts (functions/read/caller-proof.ts); redirects are not followed, the answer is read up to
 * {@link MAX_STS_ANSWER_BYTES}, and only a `GetCallerIdentityResponse` document with exactly one
 * `Arn` is believed.
 */
import type { SendToSts, StsAnswer } from '../read/caller-identity.js';

/** STS answers GetCallerIdentity in well under 1 KB; anything larger is not its answer. */
export const MAX_STS_ANSWER_BYTES = 16 * 1024;

const ROOT =
  /^(?:<\?xml[^>]*\?>\s*)?<GetCallerIdentityResponse(?:\s+xmlns="[^"<>]*")?\s*>([\s\S]*)<\/GetCallerIdentityResponse>$/;
const RESULT = /<GetCallerIdentityResult>([\s\S]*?)<\/GetCallerIdentityResult>/g;
const ARN = /<Arn>([^<&]{20,2048})<\/Arn>/g;
const ERROR_CODE = /<Error>[\s\S]*?<Code>([A-Za-z0-9.]{1,64})<\/Code>/;
const THROTTLED = /^(?:Throttling|ThrottlingException|RequestLimitExceeded|TooManyRequestsException)$/;

/** What STS answered, from its status and body. */
export function parseStsAnswer(status: number, body: string): StsAnswer {
  if (status === 200) {
    const arn = arnOf(body.trim());
    return arn === undefined
      ? { kind: 'unavailable', reason: 'unexpected_answer' }
      : { kind: 'identity', arn };
  }
  const stsCode = ERROR_CODE.exec(body)?.[1] ?? `http_${status}`;
  if (status >= 500 || status === 429 || THROTTLED.test(stsCode)) {
    return { kind: 'unavailable', reason: stsCode };
  }
  if (status >= 400) return { kind: 'refused', stsCode };
  return { kind: 'unavailable', reason: `http_${status}` };
}

/** The one `Arn` of the one `GetCallerIdentityResult` of a `GetCallerIdentityResponse` document. */
function arnOf(xml: string): string | undefined {
  // No DOCTYPE, CDATA, comments or processing instructions past the prolog: nothing to smuggle text in.
  if (/<!|<\?(?!xml)/.test(xml)) return undefined;
  const inner = ROOT.exec(xml)?.[1];
  if (inner === undefined) return undefined;
  const results = [...inner.matchAll(RESULT)];
  if (results.length !== 1) return undefined;
  const arns = [...(results[0]?.[1] ?? '').matchAll(ARN)];
  return arns.length === 1 ? arns[0]?.[1] : undefined;
}

export interface SendCallerProofOptions {
  /** @default `globalThis.fetch` */
  readonly fetch?: typeof fetch;
}

/** {@link SendToSts} over `fetch`. */
export function stsProofSender(options: SendCallerProofOptions = {}): SendToSts {
  const fetchImpl = options.fetch ?? globalThis.fetch;
  return (request, signal) => sendCallerProof(fetchImpl, request, signal);
}

/** POST the proof's request to its URL, and read the answer (bounded). */
export async function sendCallerProof(
  fetchImpl: typeof fetch,
  request: Parameters<SendToSts>[0],
  signal: AbortSignal,
): Promise<StsAnswer> {
  let response: Response;
  try {
    response = await fetchImpl(request.url, {
      method: 'POST',
      headers: request.headers,
      body: request.body,
      redirect: 'manual',
      signal,
    });
  } catch (error) {
    return { kind: 'unavailable', reason: error instanceof Error ? error.name : 'fetch_failed' };
  }
  const body = await boundedText(response, signal);
  if (body === undefined) return { kind: 'unavailable', reason: 'answer_unreadable' };
  return parseStsAnswer(response.status, body);
}

/** The body as text, or `undefined` past {@link MAX_STS_ANSWER_BYTES}. */
async function boundedText(response: Response, signal: AbortSignal): Promise<string | undefined> {
  const declared = Number(response.headers.get('content-length') ?? '0');
  if (declared > MAX_STS_ANSWER_BYTES || response.body === null) {
    await response.body?.cancel().catch(() => undefined);
    return declared > MAX_STS_ANSWER_BYTES ? undefined : '';
  }
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      if (signal.aborted) return undefined;
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > MAX_STS_ANSWER_BYTES) {
        await reader.cancel().catch(() => undefined);
        return undefined;
      }
      chunks.push(value);
    }
  } catch {
    return undefined;
  }
  return Buffer.concat(chunks).toString('utf8');
}
