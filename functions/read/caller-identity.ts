/**
 * Who the caller is, from its caller proof: check the proof (caller-proof.ts), send it to STS, and
 * believe the ARN STS answers with. Verified proofs (and proofs STS refused) are cached by their
 * SHA-256 until they expire, so one consumer container costs STS about one call per read container
 * every 4 minutes (the client reuses a proof that long), not one per read. Concurrent requests with
 * the same proof share one STS call. Build once per container; it holds the cache.
 */
import type { Clock } from '../core/ports.js';
import {
  type CheckedProof,
  checkCallerProof,
  MAX_CALLER_PROOF_CHARS,
  PROOF_MAX_AGE_MS,
  type ProofExpectations,
  proofHash,
} from './caller-proof.js';

/** What STS answered to a proof's request (the adapter, functions/aws/sts-proof.ts, parses it). */
export type StsAnswer =
  /** 200 with a `GetCallerIdentityResult`: the ARN of whoever signed the request. */
  | { readonly kind: 'identity'; readonly arn: string }
  /** STS refused the request (4xx): a wrong signature, unknown or expired credentials. */
  | { readonly kind: 'refused'; readonly stsCode: string }
  /** No usable answer: network, timeout, throttling, 5xx, a body that is not the expected XML. */
  | { readonly kind: 'unavailable'; readonly reason: string };

/** Sends a checked proof's request to STS (the STS endpoint is the request's `url`). */
export type SendToSts = (request: CheckedProof['request'], signal: AbortSignal) => Promise<StsAnswer>;

/** Why a caller was not identified: the answer's status and code, and a reason for the log line. */
export interface IdentificationFailure {
  readonly ok: false;
  readonly status: 401 | 503;
  readonly code: string;
  readonly message: string;
  readonly retryAfterSeconds?: number;
  /** For the log line only: STS's error code or why STS could not be asked. */
  readonly detail?: string;
}

export type Identification =
  | { readonly ok: true; readonly callerArn: string; readonly fromCache: boolean }
  | IdentificationFailure;

/** Default bound on the cache: a container rarely sees more than a few hundred live proofs. */
export const DEFAULT_MAX_CACHED_PROOFS = 1_000;
/** Default bound on one STS call. */
export const DEFAULT_STS_TIMEOUT_MS = 5_000;

export interface CallerIdentityVerifierOptions {
  readonly expectations: ProofExpectations;
  readonly send: SendToSts;
  readonly clock: Clock;
  /** Default {@link DEFAULT_MAX_CACHED_PROOFS}. */
  readonly maxCachedProofs?: number;
  /** Default {@link DEFAULT_STS_TIMEOUT_MS}. */
  readonly stsTimeoutMs?: number;
}

interface CacheEntry {
  readonly result: Identification;
  readonly validUntil: number;
}

export class CallerIdentityVerifier {
  readonly #options: CallerIdentityVerifierOptions;
  readonly #maxCachedProofs: number;
  readonly #cache = new Map<string, CacheEntry>();
  readonly #inFlight = new Map<string, Promise<Identification>>();

  constructor(options: CallerIdentityVerifierOptions) {
    this.#options = options;
    this.#maxCachedProofs = options.maxCachedProofs ?? DEFAULT_MAX_CACHED_PROOFS;
  }

  /** Proofs in the cache now (for tests and the log). */
  get cachedProofs(): number {
    return this.#cache.size;
  }

  /** The caller's ARN as STS states it, or why the proof was refused. Never throws. */
  async identify(encoded: string): Promise<Identification> {
    const now = this.#options.clock.now();
    // The cache key; an over-long proof is refused below without being hashed.
    const hash = encoded.length <= MAX_CALLER_PROOF_CHARS ? proofHash(encoded) : undefined;
    // A proof STS has answered passed every check below then, and stays good until it expires: a
    // warm container answers it by its hash alone.
    const known = hash === undefined ? undefined : this.#remembered(hash, now);
    if (known !== undefined) return known;
    const checked = checkCallerProof(encoded, this.#options.expectations, now);
    if (!checked.ok) return { ok: false, status: 401, code: checked.code, message: checked.message };
    // checkCallerProof accepts no proof over MAX_CALLER_PROOF_CHARS, so `hash` is set here.
    const key = hash ?? proofHash(encoded);
    const pending = this.#inFlight.get(key);
    if (pending !== undefined) return pending;
    const verifying = this.#verify(key, checked.proof).finally(() => this.#inFlight.delete(key));
    this.#inFlight.set(key, verifying);
    return verifying;
  }

  #remembered(hash: string, now: number): Identification | undefined {
    const cached = this.#cache.get(hash);
    if (cached === undefined || now >= cached.validUntil) return undefined;
    return cached.result.ok ? { ...cached.result, fromCache: true } : cached.result;
  }

  async #verify(hash: string, proof: CheckedProof): Promise<Identification> {
    const timeoutMs = this.#options.stsTimeoutMs ?? DEFAULT_STS_TIMEOUT_MS;
    let answer: StsAnswer;
    try {
      answer = await this.#options.send(proof.request, AbortSignal.timeout(timeoutMs));
    } catch (error) {
      answer = { kind: 'unavailable', reason: error instanceof Error ? error.name : 'error' };
    }
    const result = resultOf(answer);
    // STS gave a verdict on this exact signed request: it holds until the request itself expires.
    if (answer.kind !== 'unavailable') this.#remember(hash, proof, result);
    return result;
  }

  #remember(key: string, proof: CheckedProof, result: Identification): void {
    const now = this.#options.clock.now();
    if (this.#cache.size >= this.#maxCachedProofs) {
      for (const [hash, entry] of this.#cache) if (entry.validUntil <= now) this.#cache.delete(hash);
    }
    // Still full: drop the oldest (a Map iterates in insertion order).
    while (this.#cache.size >= this.#maxCachedProofs) {
      const oldest = this.#cache.keys().next().value;
      if (oldest === undefined) break;
      this.#cache.delete(oldest);
    }
    this.#cache.set(key, { result, validUntil: proof.signedAt + PROOF_MAX_AGE_MS });
  }
}

function resultOf(answer: StsAnswer): Identification {
  switch (answer.kind) {
    case 'identity':
      return { ok: true, callerArn: answer.arn, fromCache: false };
    case 'refused':
      return {
        ok: false,
        status: 401,
        code: 'caller_proof_rejected',
        message:
          `STS refused the caller proof (${answer.stsCode}): it is not signed with valid AWS credentials; ` +
          'sign it with the credentials of a role that is a consumer (the client does)',
        detail: answer.stsCode,
      };
    case 'unavailable':
      return {
        ok: false,
        status: 503,
        code: 'identity_unavailable',
        message: 'The caller identity could not be checked with STS; try again',
        retryAfterSeconds: 1,
        detail: answer.reason,
      };
  }
}
