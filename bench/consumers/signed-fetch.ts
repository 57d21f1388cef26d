/**
 * The floor of an SDK-free client: `GetSecretValue` as one SigV4-signed `fetch` (`@smithy/signature-v4`
 * with the client's SHA-256 over `node:crypto`), credentials and endpoint from the environment as the
 * SDK reads them on Lambda. No credential chain, no retries, no error translation: what a real client
 * adds on top costs at least this.
 */
import { SignatureV4 } from '@smithy/signature-v4';
import { NodeSha256 } from '../../functions/client/sha256.js';

const secretId = process.env.BENCH_SECRET_ID ?? '';
const region = process.env.AWS_REGION ?? 'us-east-1';
const endpoint = new URL(
  process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER ??
    process.env.AWS_ENDPOINT_URL ??
    `https://secretsmanager.${region}.amazonaws.com`,
);
const signer = new SignatureV4({
  service: 'secretsmanager',
  region,
  credentials: {
    accessKeyId: process.env.AWS_ACCESS_KEY_ID ?? '',
    secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY ?? '',
    ...(process.env.AWS_SESSION_TOKEN === undefined ? {} : { sessionToken: process.env.AWS_SESSION_TOKEN }),
  },
  sha256: NodeSha256,
});

export async function handler(): Promise<string> {
  const body = JSON.stringify({ SecretId: secretId, VersionStage: 'AWSCURRENT' });
  const signed = await signer.sign({
    method: 'POST',
    protocol: endpoint.protocol,
    hostname: endpoint.hostname,
    ...(endpoint.port === '' ? {} : { port: Number(endpoint.port) }),
    path: '/',
    query: {},
    headers: {
      host: endpoint.host,
      'content-type': 'application/x-amz-json-1.1',
      'x-amz-target': 'secretsmanager.GetSecretValue',
    },
    body,
  });
  // fetch sets Host itself, from the same URL that was signed.
  const { host: _host, ...headers } = signed.headers;
  const response = await fetch(endpoint, { method: 'POST', headers, body });
  const output = (await response.json()) as { SecretString?: string; __type?: string };
  if (!response.ok) throw new Error(`GetSecretValue answered HTTP ${response.status} (${output.__type})`);
  return (JSON.parse(output.SecretString ?? '{}') as { accessToken: string }).accessToken;
}
