/**
 * {@link SendToSts} over `node:http`/`node:https`: the read function's default way of sending a
 * caller proof to STS. It does what `stsProofSender` (sts-proof.ts) does over `fetch` — POST exactly
 * the checked request, follow no redirect, read the answer up to {@link MAX_STS_ANSWER_BYTES}, parse
 * it with the same `parseStsAnswer` — without loading Node's `fetch` (undici), which Node loads on the
 * first call: that load was most of the first request's cost after a cold start (issue 17; the
 * client's `nodeHttpFetch` avoids it for the same reason).
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { SendToSts, StsAnswer } from '../read/caller-identity.js';
import { MAX_STS_ANSWER_BYTES, parseStsAnswer } from './sts-proof.js';

const UNREADABLE: StsAnswer = { kind: 'unavailable', reason: 'answer_unreadable' };

/** {@link SendToSts} over `node:http(s)` (the default agents: a kept-alive connection is reused). */
export function nodeStsProofSender(): SendToSts {
  return (proof, signal) =>
    new Promise<StsAnswer>((resolve) => {
      let settled = false;
      const settle = (answer: StsAnswer) => {
        if (settled) return;
        settled = true;
        resolve(answer);
      };
      const url = new URL(proof.url);
      const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
      const request = send(
        url,
        {
          method: 'POST',
          headers: { ...proof.headers, 'content-length': String(Buffer.byteLength(proof.body)) },
          signal,
        },
        (response) => readBounded(response, settle),
      );
      request.on('error', (error: Error & { code?: unknown }) => {
        // Aborted: named by the signal's reason (TimeoutError), as fetch rejects; else the system error's code.
        const reason = signal.aborted
          ? nameOf(signal.reason)
          : typeof error.code === 'string'
            ? error.code
            : error.name;
        settle({ kind: 'unavailable', reason });
      });
      request.end(proof.body);
    });
}

/** The answer parsed, or unreadable past the bound (the connection is dropped then). */
function readBounded(response: IncomingMessage, settle: (answer: StsAnswer) => void): void {
  const declared = Number(response.headers['content-length'] ?? '0');
  if (declared > MAX_STS_ANSWER_BYTES) {
    response.destroy();
    settle(UNREADABLE);
    return;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  response.on('data', (chunk: Buffer) => {
    size += chunk.byteLength;
    if (size > MAX_STS_ANSWER_BYTES) {
      response.destroy();
      settle(UNREADABLE);
      return;
    }
    chunks.push(chunk);
  });
  response.on('error', () => settle(UNREADABLE));
  response.on('close', () => settle(UNREADABLE)); // closed before its end: a no-op after 'end'
  response.on('end', () =>
    settle(parseStsAnswer(response.statusCode ?? 0, Buffer.concat(chunks).toString('utf8'))),
  );
}

function nameOf(reason: unknown): string {
  return reason instanceof Error ? reason.name : 'AbortError';
}
