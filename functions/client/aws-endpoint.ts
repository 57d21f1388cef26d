/**
 * Where an AWS JSON service is reached, decided as the AWS SDK decides it from code and environment
 * (no shared config files), with nothing to load: the Secrets Manager source checks at cold start
 * whether its `fetch` transport can reach the endpoint the SDK would.
 */

/** What the client needs to know of an AWS service that speaks an AWS JSON protocol. */
export interface AwsJsonService {
  /** The SigV4 signing name. */
  readonly signingName: string;
  /** The regional endpoint is `https://<endpointPrefix>.<region>.<partition's DNS suffix>`. */
  readonly endpointPrefix: string;
  /** The SDK's service id, upper snake case: its endpoint variable is `AWS_ENDPOINT_URL_<this>`. */
  readonly endpointVariable: string;
  /** `application/x-amz-json-<jsonVersion>`. */
  readonly jsonVersion: '1.0' | '1.1';
  /** `X-Amz-Target` is `<targetPrefix>.<operation>`. */
  readonly targetPrefix: string;
}

export const SECRETS_MANAGER_SERVICE: AwsJsonService = {
  signingName: 'secretsmanager',
  endpointPrefix: 'secretsmanager',
  endpointVariable: 'SECRETS_MANAGER',
  jsonVersion: '1.1',
  targetPrefix: 'secretsmanager',
};

export const DYNAMODB_SERVICE: AwsJsonService = {
  signingName: 'dynamodb',
  endpointPrefix: 'dynamodb',
  endpointVariable: 'DYNAMODB',
  jsonVersion: '1.0',
  targetPrefix: 'DynamoDB_20120810',
};

/** DNS suffixes of the partitions other than `aws` (@aws-sdk/core's partitions.js); `aws-us-gov` shares `aws`'s. */
const PARTITION_DNS_SUFFIXES: readonly (readonly [RegExp, string])[] = [
  [/^cn-\w+-\d+$/, 'amazonaws.com.cn'],
  [/^eusc-de-\w+-\d+$/, 'amazonaws.eu'],
  [/^us-iso-\w+-\d+$/, 'c2s.ic.gov'],
  [/^us-isob-\w+-\d+$/, 'sc2s.sgov.gov'],
  [/^eu-isoe-\w+-\d+$/, 'cloud.adc-e.uk'],
  [/^us-isof-\w+-\d+$/, 'csp.hci.ic.gov'],
];

type Environment = Readonly<Record<string, string | undefined>>;

/** The endpoint the SDK would use, or why this client cannot tell (then the SDK must be used). */
export type EndpointResolution = { readonly endpoint: URL } | { readonly unsupported: string };

/**
 * The endpoint as the SDK resolves it from code and environment: `configured` (the client config's
 * `endpoint`), else `AWS_ENDPOINT_URL_<SERVICE>`, else `AWS_ENDPOINT_URL` (both ignored when
 * `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true`), else the regional endpoint. FIPS and dual-stack
 * endpoints (`AWS_USE_FIPS_ENDPOINT`, `AWS_USE_DUALSTACK_ENDPOINT`) are left to the SDK.
 */
export function resolveAwsEndpoint(
  service: Pick<AwsJsonService, 'endpointPrefix' | 'endpointVariable'>,
  region: string,
  configured: string | undefined,
  environment: Environment = process.env,
): EndpointResolution {
  for (const variable of ['AWS_USE_FIPS_ENDPOINT', 'AWS_USE_DUALSTACK_ENDPOINT']) {
    if (environment[variable]?.toLowerCase() === 'true') return { unsupported: `${variable} is set` };
  }
  const fromEnvironment =
    environment.AWS_IGNORE_CONFIGURED_ENDPOINT_URLS?.toLowerCase() === 'true'
      ? undefined
      : environment[`AWS_ENDPOINT_URL_${service.endpointVariable}`] || environment.AWS_ENDPOINT_URL;
  const custom = configured ?? fromEnvironment;
  if (custom !== undefined && custom !== '') {
    const url = URL.canParse(custom) ? new URL(custom) : undefined;
    return url?.protocol === 'https:' || url?.protocol === 'http:'
      ? { endpoint: url }
      : { unsupported: `the endpoint ${JSON.stringify(custom.slice(0, 100))} is not an http(s) URL` };
  }
  if (!/^[a-z0-9-]{1,63}$/.test(region)) return { unsupported: `the region ${JSON.stringify(region)}` };
  const suffix = PARTITION_DNS_SUFFIXES.find(([pattern]) => pattern.test(region))?.[1] ?? 'amazonaws.com';
  return { endpoint: new URL(`https://${service.endpointPrefix}.${region}.${suffix}`) };
}
