/**
 * The events of the construct's credentials-change rule (infra/credentials-change.ts): a Secrets
 * Manager `PutSecretValue` or `UpdateSecret` call, recorded by CloudTrail and delivered by EventBridge
 * as it is (no input transformer). Decoded to `{ provider, trigger: "credentials-changed" }` for the
 * provider whose credentials secret the call named; the engine then looks at the secret's version
 * itself (functions/core/credentials-change.ts), so nothing in the event is trusted beyond the name.
 *
 * `requestParameters.secretId` is what the caller passed: the secret's name, its complete ARN (with
 * the 6-character suffix Secrets Manager adds) or a partial ARN (without it). All three are matched.
 */
import type { ProviderConfig } from '../core/config.js';
import { type JsonShape, shapeParser } from '../core/json-shape.js';
import { credentialsSecretName } from '../core/names.js';

/** The `detail-type` of a CloudTrail-recorded API call. */
export const CLOUDTRAIL_DETAIL_TYPE = 'AWS API Call via CloudTrail';

/** The calls that write a new version of a secret's value. */
export const CREDENTIALS_CHANGE_EVENT_NAMES = ['PutSecretValue', 'UpdateSecret'] as const;

/**
 * The part of the CloudTrail event the function reads; everything else (who, from where) may be there
 * and is not looked at. Checked by `core/json-shape.ts` (no zod in the bundle).
 */
export const CREDENTIALS_CHANGE_EVENT_SCHEMA = {
  type: 'object',
  properties: {
    source: { type: 'string', const: 'aws.secretsmanager' },
    'detail-type': { type: 'string', const: CLOUDTRAIL_DETAIL_TYPE },
    detail: {
      type: 'object',
      properties: {
        eventSource: { type: 'string', const: 'secretsmanager.amazonaws.com' },
        eventName: { type: 'string', enum: CREDENTIALS_CHANGE_EVENT_NAMES },
        requestParameters: {
          type: 'object',
          properties: { secretId: { type: 'string', minLength: 1 } },
          required: ['secretId'],
        },
      },
      required: ['eventSource', 'eventName', 'requestParameters'],
    },
  },
  required: ['source', 'detail-type', 'detail'],
} as const satisfies JsonShape;

/** What {@link CREDENTIALS_CHANGE_EVENT_SCHEMA} guarantees. */
interface CredentialsChangeEvent {
  readonly detail: { readonly requestParameters: { readonly secretId: string } };
}

const credentialsChangeEvent = shapeParser<CredentialsChangeEvent>(CREDENTIALS_CHANGE_EVENT_SCHEMA, 'event');

/** A decoded credentials-change event, or why it names no provider. */
export type DecodedCredentialsChange =
  | { readonly event: { readonly provider: string; readonly trigger: 'credentials-changed' } }
  | { readonly problem: { readonly code: 'invalid_event' | 'unknown_secret'; readonly message: string } };

/** The complete ARN's suffix: `-` and the 6 characters Secrets Manager appends to the name. */
const ARN_SUFFIX = /-[A-Za-z0-9]{6}$/;
/** A Secrets Manager secret ARN, capturing the part after `secret:`. */
const SECRET_ARN = /^arn:[^:]+:secretsmanager:[^:]*:[^:]*:secret:(.+)$/;

/** Whether `event` is shaped as an EventBridge event (`detail-type`): it then must decode as one. */
export function isEventBridgeEvent(event: unknown): boolean {
  return typeof event === 'object' && event !== null && 'detail-type' in event;
}

/** Provider name → its credentials secret as the function reads it (`credentialsSecretArn`, or the name). */
export function credentialsSecretIds(
  secretPrefix: string,
  providers: readonly ProviderConfig[],
): ReadonlyMap<string, string> {
  return new Map(
    providers.map((provider) => [
      provider.name,
      provider.credentialsSecretArn ?? credentialsSecretName(secretPrefix, provider.name),
    ]),
  );
}

/**
 * The provider whose credentials secret `secretId` names; `undefined` for any other secret (a token
 * secret, another deployment's secret).
 */
export function providerOfSecretId(
  secretId: string,
  credentialsSecrets: ReadonlyMap<string, string>,
): string | undefined {
  const named = namesOf(secretId);
  for (const [provider, configured] of credentialsSecrets) {
    const arn = SECRET_ARN.exec(configured);
    // A configured complete ARN ends with the suffix; a partial one (and a name) does not.
    const name = arn?.[1] === undefined ? configured : arn[1].replace(ARN_SUFFIX, '');
    if (named.includes(name)) return provider;
  }
  return undefined;
}

/** The names a secret id may stand for: a name itself; an ARN's name, with or without its suffix. */
function namesOf(secretId: string): readonly string[] {
  const name = SECRET_ARN.exec(secretId)?.[1];
  if (name === undefined) return [secretId];
  return [name, name.replace(ARN_SUFFIX, '')];
}

/** Decode an EventBridge event of the credentials-change rule (see {@link isEventBridgeEvent}). */
export function decodeCredentialsChange(
  event: unknown,
  credentialsSecrets: ReadonlyMap<string, string>,
): DecodedCredentialsChange {
  const parsed = credentialsChangeEvent.safeParse(event);
  if (!parsed.success) {
    const fields = parsed.problems;
    return {
      problem: {
        code: 'invalid_event',
        message:
          `Malformed EventBridge event (${fields.join('; ')}); expected a Secrets Manager ` +
          `${CREDENTIALS_CHANGE_EVENT_NAMES.join(' or ')} call recorded by CloudTrail`,
      },
    };
  }
  const { secretId } = parsed.data.detail.requestParameters;
  const provider = providerOfSecretId(secretId, credentialsSecrets);
  if (provider === undefined) {
    return {
      problem: {
        code: 'unknown_secret',
        // A secret name or ARN is no secret; it is cut short so that a forged event cannot flood a line.
        message: `Secret "${secretId.slice(0, 200)}" is not the credentials secret of a configured provider; ignored`,
      },
    };
  }
  return { event: { provider, trigger: 'credentials-changed' } };
}
