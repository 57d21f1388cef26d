/**
 * The STS half of a caller proof: what the read function believes from STS's answer (parsed from
 * plain values), and how it sends the request (a fake fetch records it).
 */
import { describe, expect, it } from 'vitest';
import { MAX_STS_ANSWER_BYTES, parseStsAnswer, sendCallerProof } from '../../../functions/aws/sts-proof.js';

const ARN = 'arn:aws:sts::123456789012:assumed-role/consumer-a/session';
const OK = `<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <GetCallerIdentityResult>
    <Arn>${ARN}</Arn>
    <UserId>AROAEXAMPLE:session</UserId>
    <Account>123456789012</Account>
  </GetCallerIdentityResult>
  <ResponseMetadata><RequestId>01234567-89ab-cdef-0123-456789abcdef</RequestId></ResponseMetadata>
</GetCallerIdentityResponse>`;
const error = (code: string) =>
  `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>${code}</Code><Message>m</Message></Error><RequestId>r</RequestId></ErrorResponse>`;

describe('Function: parseStsAnswer', () => {
  it('believes the one Arn of a GetCallerIdentityResponse (with or without an XML declaration)', () => {
    expect(parseStsAnswer(200, OK)).toStrictEqual({ kind: 'identity', arn: ARN });
    expect(parseStsAnswer(200, `<?xml version="1.0" encoding="UTF-8"?>\n${OK}`)).toStrictEqual({
      kind: 'identity',
      arn: ARN,
    });
  });

  it.each([
    ['another action’s answer', OK.replaceAll('GetCallerIdentity', 'AssumeRole')],
    [
      'two results',
      OK.replace(
        '</GetCallerIdentityResult>',
        `</GetCallerIdentityResult>${OK.slice(OK.indexOf('<GetCallerIdentityResult>'), OK.indexOf('<ResponseMetadata>'))}`,
      ),
    ],
    ['two Arns', OK.replace('<UserId>', `<Arn>${ARN.replace('consumer-a', 'admin')}</Arn><UserId>`)],
    ['no Arn', OK.replace(/<Arn>.*<\/Arn>/, '')],
    ['a DOCTYPE', `<!DOCTYPE x [<!ENTITY a "${ARN}">]>${OK}`],
    ['a CDATA Arn', OK.replace(ARN, `<![CDATA[${ARN}]]>`)],
    ['an entity in the Arn', OK.replace(ARN, `${ARN}&amp;`)],
    ['text around the root', `junk${OK}`],
    ['JSON', JSON.stringify({ Arn: ARN })],
  ])('believes nothing from %s', (_case, body) => {
    expect(parseStsAnswer(200, body)).toStrictEqual({ kind: 'unavailable', reason: 'unexpected_answer' });
  });

  it.each([
    [403, error('SignatureDoesNotMatch'), { kind: 'refused', stsCode: 'SignatureDoesNotMatch' }],
    [403, error('InvalidClientTokenId'), { kind: 'refused', stsCode: 'InvalidClientTokenId' }],
    [400, error('ExpiredToken'), { kind: 'refused', stsCode: 'ExpiredToken' }],
    [403, 'not xml', { kind: 'refused', stsCode: 'http_403' }],
    [400, error('Throttling'), { kind: 'unavailable', reason: 'Throttling' }],
    [429, '', { kind: 'unavailable', reason: 'http_429' }],
    [500, error('InternalFailure'), { kind: 'unavailable', reason: 'InternalFailure' }],
    [302, '', { kind: 'unavailable', reason: 'http_302' }],
  ])('reads HTTP %i %s as %j', (status, body, expected) => {
    expect(parseStsAnswer(status, body)).toStrictEqual(expected);
  });
});

describe('Function: sendCallerProof', () => {
  const request = {
    url: 'https://sts.eu-west-1.amazonaws.com/',
    body: 'Action=GetCallerIdentity&Version=2011-06-15',
    headers: { authorization: 'AWS4-HMAC-SHA256 ...', 'x-amz-date': '20300101T000000Z' },
  };

  it('POSTs exactly the checked request, without following redirects', async () => {
    // Prepare
    const seen: { input: unknown; init: RequestInit | undefined }[] = [];
    const fetchImpl = (async (input: unknown, init?: RequestInit) => {
      seen.push({ input, init });
      return new Response(OK, { status: 200 });
    }) as typeof fetch;

    // Act
    const answer = await sendCallerProof(fetchImpl, request, AbortSignal.timeout(1000));

    // Assess
    expect(answer).toStrictEqual({ kind: 'identity', arn: ARN });
    expect(seen).toHaveLength(1);
    expect(seen[0]?.input).toBe(request.url);
    expect(seen[0]?.init).toMatchObject({
      method: 'POST',
      headers: request.headers,
      body: request.body,
      redirect: 'manual',
    });
  });

  it('answers unavailable for a network failure, a redirect and an answer over the bound', async () => {
    // Prepare
    const failing = (async () => {
      throw Object.assign(new Error('down'), { name: 'TypeError' });
    }) as typeof fetch;
    const redirecting = (async () =>
      new Response('', { status: 307, headers: { location: 'https://attacker.example/' } })) as typeof fetch;
    const huge = (async () =>
      new Response('x'.repeat(MAX_STS_ANSWER_BYTES + 1), { status: 200 })) as typeof fetch;
    const declaredHuge = (async () =>
      new Response(OK, {
        status: 200,
        headers: { 'content-length': String(MAX_STS_ANSWER_BYTES + 1) },
      })) as typeof fetch;

    // Act
    const answers = await Promise.all(
      [failing, redirecting, huge, declaredHuge].map((fetchImpl) =>
        sendCallerProof(fetchImpl, request, AbortSignal.timeout(1000)),
      ),
    );

    // Assess
    expect(answers).toStrictEqual([
      { kind: 'unavailable', reason: 'TypeError' },
      { kind: 'unavailable', reason: 'http_307' },
      { kind: 'unavailable', reason: 'answer_unreadable' },
      { kind: 'unavailable', reason: 'answer_unreadable' },
    ]);
  });
});
