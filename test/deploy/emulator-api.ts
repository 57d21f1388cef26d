/**
 * Calls to the emulator for the services this repository has no SDK client of (CloudWatch, KMS, Logs,
 * SNS, S3 reads): moto takes the service and region from the `Authorization` header's credential scope
 * and checks no signature, so a plain `fetch` with that header is enough.
 */

const REGION = 'us-east-1';

function authorization(service: string): string {
  return `AWS4-HMAC-SHA256 Credential=testing/20260101/${REGION}/${service}/aws4_request, SignedHeaders=host, Signature=0`;
}

/** Where each JSON-protocol service is addressed: its signing name, `X-Amz-Target` prefix and version. */
const JSON_SERVICES = {
  cloudwatch: { signingName: 'monitoring', target: 'GraniteServiceVersion20100801', version: '1.0' },
  kms: { signingName: 'kms', target: 'TrentService', version: '1.1' },
  logs: { signingName: 'logs', target: 'Logs_20140328', version: '1.1' },
} as const;

export type JsonService = keyof typeof JSON_SERVICES;

/** One JSON-protocol call (`awsJson1_0`/`awsJson1_1`); throws with the service's answer on an error. */
export async function callJson<T>(
  endpoint: string,
  service: JsonService,
  operation: string,
  input: object,
): Promise<T> {
  const { signingName, target, version } = JSON_SERVICES[service];
  const response = await fetch(endpoint, {
    method: 'POST',
    headers: {
      authorization: authorization(signingName),
      'content-type': `application/x-amz-json-${version}`,
      'x-amz-target': `${target}.${operation}`,
    },
    body: JSON.stringify(input),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${service} ${operation}: HTTP ${response.status} ${text.slice(0, 300)}`);
  return JSON.parse(text) as T;
}

const XML_ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function unescapeXml(text: string): string {
  return text.replace(/&(amp|lt|gt|quot|apos|#(\d+));/g, (_, name: string, code?: string) =>
    code === undefined ? (XML_ENTITIES[name] ?? '') : String.fromCharCode(Number(code)),
  );
}

/** SNS `GetTopicAttributes` (a query-protocol service): the attribute map. */
export async function topicAttributes(endpoint: string, topicArn: string): Promise<Record<string, string>> {
  const response = await fetch(endpoint, {
    method: 'POST',
    headers: {
      authorization: authorization('sns'),
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ Action: 'GetTopicAttributes', TopicArn: topicArn }).toString(),
  });
  const xml = await response.text();
  if (!response.ok) throw new Error(`sns GetTopicAttributes: HTTP ${response.status} ${xml.slice(0, 300)}`);
  const attributes: Record<string, string> = {};
  for (const [, key, value] of xml.matchAll(/<entry><key>([^<]*)<\/key><value(?:\/>|>([^<]*)<\/value>)/g)) {
    if (key !== undefined) attributes[key] = unescapeXml(value ?? '');
  }
  return attributes;
}

/** The bytes of an S3 object (path-style GET), or `undefined` when there is none. */
export async function s3Object(endpoint: string, bucket: string, key: string): Promise<Buffer | undefined> {
  const response = await fetch(`${endpoint}/${bucket}/${key}`, {
    headers: { authorization: authorization('s3') },
  });
  if (response.status === 404) return undefined;
  if (!response.ok) throw new Error(`s3 GetObject ${bucket}/${key}: HTTP ${response.status}`);
  return Buffer.from(await response.arrayBuffer());
}

/** Create the bucket (if missing) and put an object in it (path-style). */
export async function putS3Object(
  endpoint: string,
  bucket: string,
  key: string,
  body: Buffer,
): Promise<void> {
  const headers = { authorization: authorization('s3') };
  const created = await fetch(`${endpoint}/${bucket}`, { method: 'PUT', headers });
  if (!created.ok && created.status !== 409)
    throw new Error(`s3 CreateBucket ${bucket}: HTTP ${created.status}`);
  const put = await fetch(`${endpoint}/${bucket}/${key}`, { method: 'PUT', headers, body });
  if (!put.ok) throw new Error(`s3 PutObject ${bucket}/${key}: HTTP ${put.status}`);
}
