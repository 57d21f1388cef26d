/**
 * The AWS SDK client settings the code passes around: the functions' composition roots, the CLI, the
 * local runner and the tests pointing at the emulator. Plain shapes with no SDK import, assignable to
 * every SDK v3 client's configuration (`new XxxClient({ ...DEFAULT_CLIENT_CONFIG, ...config })`).
 */

/** Static credentials (the emulator's test keys, a resolved identity). */
export interface AwsCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

/** Credentials resolved on demand (a profile, SSO, a role), as the SDK's credential providers are. */
export type AwsCredentialsProvider = () => Promise<AwsCredentials>;

/** What a caller may set on a client; anything unset is left to the SDK (environment, defaults). */
export interface AwsClientConfig {
  readonly region?: string;
  readonly endpoint?: string;
  readonly credentials?: AwsCredentials | AwsCredentialsProvider;
  readonly maxAttempts?: number;
}

/** A client of the emulator (moto): endpoint, region and the static test credentials are all set. */
export interface EmulatorClientConfig extends AwsClientConfig {
  readonly endpoint: string;
  readonly region: string;
  readonly credentials: AwsCredentials;
}
