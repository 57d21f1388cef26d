/**
 * SHA-256 and HMAC-SHA-256 over `node:crypto`, in the shape `@smithy/signature-v4` expects for its
 * `sha256` option (the smithy `Hash`/`Checksum` interface: `update`, async `digest`, `reset`).
 *
 * Why not an existing class: `@smithy/core/checksum` has an equivalent `Sha256` (also over
 * `node:crypto`), but `@smithy/core` is only a transitive dependency of the signer, not one this
 * package declares, so importing it could break on any install layout; `@aws-crypto/sha256-js` is not
 * installed at all (SDK v3 no longer depends on it) and is a pure-JS implementation. These 30 lines
 * add nothing to a bundle and the Lambda runtime always has `node:crypto`.
 */
import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';

/** What the signer passes: a string (UTF-8) or bytes. */
type SourceData = string | ArrayBuffer | ArrayBufferView;

export class NodeSha256 {
  readonly #secret: SourceData | undefined;
  #hash: Hash | Hmac;

  /** With a `secret`, an HMAC-SHA-256 keyed by it (the signer derives its signing key this way). */
  constructor(secret?: SourceData) {
    this.#secret = secret;
    this.#hash = this.#create();
  }

  update(data: SourceData): void {
    this.#hash.update(toBytes(data));
  }

  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.#hash.digest());
  }

  reset(): void {
    this.#hash = this.#create();
  }

  #create(): Hash | Hmac {
    return this.#secret === undefined ? createHash('sha256') : createHmac('sha256', toBytes(this.#secret));
  }
}

/** Lower-case hex SHA-256 of a string's UTF-8 bytes: the form of `rejectedTokenSha256`. */
export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

function toBytes(data: SourceData): Buffer {
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return Buffer.from(data);
}
