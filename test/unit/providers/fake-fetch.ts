/** A fetch that records every request and answers from a script: no network. */
import type { FetchFunction } from '../../../functions/providers/index.js';

export interface RecordedFetch {
  readonly fetch: FetchFunction;
  /** Every request as the server would see it (a `Request` built from the call's arguments). */
  readonly requests: Request[];
  /** The `RequestInit` of every call, to check options such as `redirect` and `signal`. */
  readonly inits: (RequestInit | undefined)[];
}

type Answer = Response | (() => Response | Promise<Response>);

/** Answers every call with the given response (a fresh clone each time) or factory. */
export function recordingFetch(answer: Answer): RecordedFetch {
  const requests: Request[] = [];
  const inits: (RequestInit | undefined)[] = [];
  const fetch: FetchFunction = async (input, init) => {
    requests.push(new Request(input, init));
    inits.push(init);
    return typeof answer === 'function' ? answer() : answer.clone();
  };
  return { fetch, requests, inits };
}

/** A JSON response. */
export function jsonResponse(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json', ...headers },
  });
}

/** A fetch that never answers until the signal fires, then rejects as undici does. */
export const hangingFetch: FetchFunction = (_input, init) =>
  new Promise((_resolve, reject) => {
    const signal = init?.signal;
    if (signal?.aborted) reject(signal.reason);
    signal?.addEventListener('abort', () => reject(signal.reason), { once: true });
  });

/** A 200 response whose body sends a first chunk and then stalls forever. */
export function stallingBodyResponse(): Response {
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(new TextEncoder().encode('{"access_token":"'));
    },
  });
  return new Response(stream, { status: 200, headers: { 'content-type': 'application/json' } });
}

/** Runs `action` and returns what it threw (fails when it does not throw). */
export async function caught(action: () => unknown): Promise<Error> {
  try {
    await action();
  } catch (error) {
    if (error instanceof Error) return error;
    throw new Error(`threw a non-Error: ${String(error)}`);
  }
  throw new Error('expected a throw, got none');
}
