/**
 * A consumer as the Powertools documentation writes one: `getSecret` from
 * `@aws-lambda-powertools/parameters` (its default `maxAge` and provider), the JSON transform.
 */
import { getSecret } from '@aws-lambda-powertools/parameters/secrets';

const secretId = process.env.BENCH_SECRET_ID ?? '';

export async function handler(): Promise<string> {
  const record = await getSecret<{ accessToken: string }>(secretId, { transform: 'json' });
  if (record === undefined) throw new Error(`getSecret answered nothing for ${secretId}`);
  return record.accessToken;
}
