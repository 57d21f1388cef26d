/**
 * The credentials the client signs with when none are passed: the Lambda environment's first
 * (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, set by Lambda for the
 * function's role), read as the AWS SDK's own first link (`fromEnv` of `@aws-sdk/credential-provider-node`)
 * reads them; anywhere else the SDK's whole default chain (profiles, SSO, web identity, ECS, EC2),
 * imported on first use only. So on Lambda no SDK module is ever loaded for credentials.
 *
 * The chain is imported with a dynamic `import()` on purpose: a bundler keeps a dynamic import of an
 * external package dynamic, whereas it hoists a static one to the top of the bundle, where it loads
 * at cold start whether or not the chain is ever used.
 */
import type { SignatureV4Init } from '@smithy/signature-v4';

/** Static credentials, or a function that resolves them (the shape `@smithy/signature-v4` takes). */
export type CredentialsOption = SignatureV4Init['credentials'];

/** What a credentials provider resolves to (the fields the signer uses). */
export interface AwsCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
  readonly expiration?: Date;
}

type Environment = Readonly<Record<string, string | undefined>>;

/**
 * The environment's static credentials, as the SDK's `fromEnv` reads them; `undefined` when they are
 * incomplete or when `AWS_PROFILE` is set (the SDK's default chain then skips the environment, and so
 * does this).
 */
export function environmentCredentials(environment: Environment = process.env): AwsCredentials | undefined {
  const {
    AWS_PROFILE: profile,
    AWS_ACCESS_KEY_ID: accessKeyId,
    AWS_SECRET_ACCESS_KEY: secretAccessKey,
    AWS_SESSION_TOKEN: sessionToken,
    AWS_CREDENTIAL_EXPIRATION: expiration,
  } = environment;
  if (profile || !accessKeyId || !secretAccessKey) return undefined;
  return {
    accessKeyId,
    secretAccessKey,
    ...(sessionToken ? { sessionToken } : {}),
    ...(expiration ? { expiration: new Date(expiration) } : {}),
  };
}

/** How the SDK's default chain is loaded; tests pass a fake. */
export type LoadCredentialChain = () => Promise<() => Promise<AwsCredentials>>;

/** `@aws-sdk/credential-provider-node`'s `defaultProvider()`, imported now. */
export const loadSdkCredentialChain: LoadCredentialChain = async () => {
  let module: typeof import('@aws-sdk/credential-provider-node');
  try {
    module = await import('@aws-sdk/credential-provider-node');
  } catch (error) {
    throw credentialsError(
      'No AWS credentials in the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY), and the AWS SDK ' +
        'credential chain (@aws-sdk/credential-provider-node) could not be loaded: install it, or pass credentials',
      error,
    );
  }
  // The chain memoizes, and refreshes temporary credentials before they expire.
  return module.defaultProvider();
};

/**
 * The default credentials: the environment's when present (checked on first use, then kept: Lambda
 * does not change them during the life of a container), else the SDK's chain, loaded once. A failed
 * load is tried again on the next call.
 */
export function defaultCredentials(
  environment: Environment = process.env,
  loadChain: LoadCredentialChain = loadSdkCredentialChain,
): () => Promise<AwsCredentials> {
  let fromEnvironment: AwsCredentials | undefined;
  let chain: Promise<() => Promise<AwsCredentials>> | undefined;
  return async () => {
    fromEnvironment ??= environmentCredentials(environment);
    if (fromEnvironment !== undefined) return fromEnvironment;
    chain ??= loadChain().catch((error: unknown) => {
      chain = undefined;
      throw error;
    });
    return (await chain)();
  };
}

/** Named as the SDK names its credential failures, so that both paths report the same. */
function credentialsError(message: string, cause: unknown): Error {
  const error = new Error(message, { cause });
  error.name = 'CredentialsProviderError';
  return error;
}
