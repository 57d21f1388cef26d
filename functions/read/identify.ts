/**
 * Who is asking, for both ways into the read function. The caller proof decides (caller-identity.ts);
 * the event's shape never does, because a direct Invoke can carry any event, a hand-made Function URL
 * event with any `userArn` included. Without a proof the request is refused, unless the operator set
 * `trustDirectInvoke: true`: then a Function URL event's `userArn` is believed, and a direct Invoke
 * without a proof may read every configured provider (the pre-proof behaviour).
 */
import type { Identification, IdentificationFailure } from './caller-identity.js';
import { CALLER_PROOF_FIELD, CALLER_PROOF_HEADER } from './caller-proof.js';

/** Checks a caller proof (a {@link CallerIdentityVerifier} in the deployed function). */
export interface CallerProofs {
  identify(proof: string): Promise<Identification>;
}

/** How the caller came to be known; `trusted_*` only with `trustDirectInvoke`. */
export type IdentitySource = 'proof' | 'trusted_event' | 'trusted_invoke';

/** The caller, or why it is refused; `log` holds what the one log line says about it. */
export type CallerOutcome =
  | {
      readonly ok: true;
      /** `undefined` only for `trusted_invoke`: nobody is named, every provider may be read. */
      readonly callerArn: string | undefined;
      readonly source: IdentitySource;
      readonly log: Readonly<Record<string, unknown>>;
    }
  | {
      readonly ok: false;
      readonly failure: IdentificationFailure;
      readonly log: Readonly<Record<string, unknown>>;
    };

export interface IdentifyOptions {
  readonly proofs: CallerProofs;
  readonly trustDirectInvoke: boolean;
}

const FIX = `the client library sends one (pass functionName); see docs/read-function.md "Caller proof"`;

/** A Function URL event: its `x-token-refresher-proof` header, else (trusted only) its `userArn`. */
export async function identifyUrlCaller(
  options: IdentifyOptions,
  input: { readonly callerProof: string | undefined; readonly eventArn: string | undefined },
): Promise<CallerOutcome> {
  if (input.callerProof !== undefined) return fromProof(options, input.callerProof);
  if (options.trustDirectInvoke && input.eventArn !== undefined) {
    return {
      ok: true,
      callerArn: input.eventArn,
      source: 'trusted_event',
      log: { caller: input.eventArn, identity: 'trusted_event' },
    };
  }
  if (options.trustDirectInvoke) {
    return refused(
      {
        status: 401,
        code: 'missing_identity',
        message: `The request carries neither a caller proof (${CALLER_PROOF_HEADER} header) nor an IAM identity; ${FIX}`,
      },
      'no proof, no userArn',
    );
  }
  return refused(
    {
      status: 401,
      code: 'missing_caller_proof',
      message: `The request carries no caller proof (${CALLER_PROOF_HEADER} header); ${FIX}`,
    },
    'no proof',
  );
}

/** A direct Invoke payload: its `callerProof`, else (trusted only) nobody in particular. */
export async function identifyInvokeCaller(
  options: IdentifyOptions,
  callerProof: string | undefined,
): Promise<CallerOutcome> {
  if (callerProof !== undefined) return fromProof(options, callerProof);
  if (options.trustDirectInvoke) {
    return { ok: true, callerArn: undefined, source: 'trusted_invoke', log: { identity: 'trusted_invoke' } };
  }
  return refused(
    {
      status: 401,
      code: 'missing_caller_proof',
      message:
        `The Invoke payload carries no "${CALLER_PROOF_FIELD}"; ${FIX}. An operator who trusts every ` +
        'principal allowed lambda:InvokeFunction on this function may set trustDirectInvoke: true instead',
    },
    'no proof',
  );
}

async function fromProof(options: IdentifyOptions, proof: string): Promise<CallerOutcome> {
  const identified = await options.proofs.identify(proof);
  if (!identified.ok) {
    return refused(
      identified,
      identified.detail === undefined ? identified.code : `${identified.code}: ${identified.detail}`,
    );
  }
  return {
    ok: true,
    callerArn: identified.callerArn,
    source: 'proof',
    log: { caller: identified.callerArn, identity: 'proof', proofCached: identified.fromCache },
  };
}

/** Never the proof, its signature or its session token: only the reason. */
function refused(failure: Omit<IdentificationFailure, 'ok'>, reason: string): CallerOutcome {
  return {
    ok: false,
    failure: { ok: false, ...failure },
    log: { caller: 'unidentified', callerRefused: reason },
  };
}
