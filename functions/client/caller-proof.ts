/**
 * The caller proof the read-function source sends with every request, as HashiCorp Vault's AWS IAM
 * auth method does: an `sts:GetCallerIdentity` request signed with the consumer's credentials but not
 * sent. The read function sends it to STS itself and learns from the answer who signed it, so a
 * caller can prove its role whatever way its request arrives (Function URL or direct Invoke).
 *
 * The request carries the `x-token-refresher-server-id` header, signed, naming the read function it
 * is meant for: a read function refuses proofs made for another one, so one deployment cannot replay
 * a consumer's proof against another. A proof is reused for {@link PROOF_REUSE_MS} (AWS refuses a
 * signed request 5 minutes after its date), so STS sees about one call per container every 4 minutes.
 *
 * No SDK import here: the caller passes the signer (the published package rewrites the one import of
 * `@smithy/signature-v4`, in signed-fetch.ts, to its bundler-friendly build).
 */

/** Where a Function URL request carries the proof. */
export const CALLER_PROOF_HEADER = 'x-token-refresher-proof';
/** The signed header of the STS request that names the read function the proof is for. */
export const SERVER_ID_HEADER = 'x-token-refresher-server-id';
/** The only request body a proof may have. */
export const GET_CALLER_IDENTITY_BODY = 'Action=GetCallerIdentity&Version=2011-06-15';
export const GET_CALLER_IDENTITY_CONTENT_TYPE = 'application/x-www-form-urlencoded; charset=utf-8';
/** A proof is signed afresh after this long: 1 minute inside the 5 minutes AWS accepts it for. */
export const PROOF_REUSE_MS = 4 * 60_000;

/** The HTTP request a proof describes (the wire form: base64 of this object as JSON). */
export interface CallerProofRequest {
  readonly method: 'POST';
  readonly url: string;
  readonly body: string;
  readonly headers: Readonly<Record<string, string>>;
}

/** The signing request shape of `@smithy/signature-v4` (only what is used). */
export interface ProofHttpRequest {
  readonly method: string;
  readonly protocol: string;
  readonly hostname: string;
  readonly port?: number;
  readonly path: string;
  readonly query: Record<string, string>;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/** `SignatureV4#sign` for service `sts`, bound by the caller. */
export type SignProofRequest = (
  request: ProofHttpRequest,
  options: { readonly signingDate: Date },
) => Promise<{ readonly headers: Record<string, string> }>;

/** The encoded proof: base64 of the request as JSON. */
export function encodeCallerProof(request: CallerProofRequest): string {
  return Buffer.from(JSON.stringify(request), 'utf8').toString('base64');
}

/** STS in the read function's region: `https://sts.<region>.amazonaws.com/` (`.com.cn` in China). */
export function regionalStsEndpoint(region: string): string {
  return `https://sts.${region}.amazonaws.com${region.startsWith('cn-') ? '.cn' : ''}/`;
}

export interface CallerProofSignerOptions {
  /** The STS endpoint the read function trusts (its regional one, or the emulator's). */
  readonly stsEndpoint: URL;
  /** The read function's name: the value of the signed {@link SERVER_ID_HEADER}. */
  readonly serverId: string;
  readonly sign: SignProofRequest;
  readonly now: () => number;
}

/** A proof to send, and whether it was reused from an earlier request. */
export interface CallerProof {
  readonly proof: string;
  readonly reused: boolean;
}

/** Signs proofs and reuses each for {@link PROOF_REUSE_MS}; concurrent requests share one signing. */
export class CallerProofSigner {
  readonly #options: CallerProofSignerOptions;
  #current: { readonly proof: string; readonly signedAt: number } | undefined;
  #signing: Promise<string> | undefined;

  constructor(options: CallerProofSignerOptions) {
    this.#options = options;
  }

  /** The current proof, or a new one when it is older than {@link PROOF_REUSE_MS} or was dropped. */
  async proof(): Promise<CallerProof> {
    const current = this.#current;
    const now = this.#options.now();
    if (current !== undefined && now >= current.signedAt && now - current.signedAt < PROOF_REUSE_MS) {
      return { proof: current.proof, reused: true };
    }
    this.#signing ??= this.#sign(now).finally(() => {
      this.#signing = undefined;
    });
    return { proof: await this.#signing, reused: false };
  }

  /** Drop the current proof (the read function refused it): the next request signs a new one. */
  forget(proof: string): void {
    if (this.#current?.proof === proof) this.#current = undefined;
  }

  async #sign(now: number): Promise<string> {
    const { stsEndpoint, serverId, sign } = this.#options;
    const signed = await sign(
      {
        method: 'POST',
        protocol: stsEndpoint.protocol,
        hostname: stsEndpoint.hostname,
        ...(stsEndpoint.port === '' ? {} : { port: Number(stsEndpoint.port) }),
        path: stsEndpoint.pathname,
        query: {},
        headers: {
          host: stsEndpoint.host,
          'content-type': GET_CALLER_IDENTITY_CONTENT_TYPE,
          [SERVER_ID_HEADER]: serverId,
        },
        body: GET_CALLER_IDENTITY_BODY,
      },
      { signingDate: new Date(now) },
    );
    const proof = encodeCallerProof({
      method: 'POST',
      url: stsEndpoint.href,
      body: GET_CALLER_IDENTITY_BODY,
      headers: lowerCaseKeys(signed.headers),
    });
    this.#current = { proof, signedAt: now };
    return proof;
  }
}

function lowerCaseKeys(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value]));
}
