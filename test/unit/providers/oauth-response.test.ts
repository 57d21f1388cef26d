import { describe, expect, it } from 'vitest';
import { ProviderError } from '../../../functions/core/errors.js';
import {
  parseOAuthTokenResponse,
  parseRetryAfter,
  type RawResponse,
} from '../../../functions/providers/index.js';
import { checkExpiresAt, checkLifetimeSeconds } from '../../../functions/providers/response.js';

const NOW = Date.parse('2025-06-01T12:00:00Z');
const LIFETIME_MESSAGE = '"expires_in" must be a positive number of seconds, at most 1 year';

function json(body: unknown, status = 200, headers: Record<string, string> = {}): RawResponse {
  return {
    status,
    headers: { 'content-type': 'application/json', ...headers },
    bodyText: JSON.stringify(body),
  };
}

function text(bodyText: string, status: number, headers: Record<string, string> = {}): RawResponse {
  return { status, headers, bodyText };
}

/** Parse and return the ProviderError it throws. */
function providerErrorOf(response: RawResponse): ProviderError {
  try {
    parseOAuthTokenResponse(response, { now: NOW });
  } catch (error) {
    expect(error).toBeInstanceOf(ProviderError);
    return error as ProviderError;
  }
  throw new Error('expected parseOAuthTokenResponse to throw');
}

describe('Function: parseOAuthTokenResponse', () => {
  describe('successful responses', () => {
    it('returns the token, type, lifetime, scope and refresh token', () => {
      // Prepare
      const response = json({
        access_token: 'at-1',
        token_type: 'Bearer',
        expires_in: 3600,
        scope: 'read write',
        refresh_token: 'rt-2',
      });

      // Act
      const token = parseOAuthTokenResponse(response, { now: NOW });

      // Assess
      expect(token).toEqual({
        accessToken: 'at-1',
        tokenType: 'Bearer',
        expiresInSeconds: 3600,
        scope: 'read write',
        refreshToken: 'rt-2',
      });
    });

    it('defaults token_type to Bearer and leaves the lifetime to the engine when both are absent', () => {
      // Prepare
      const response = json({ access_token: 'at-1' });

      // Act
      const token = parseOAuthTokenResponse(response, { now: NOW });

      // Assess
      expect(token).toEqual({ accessToken: 'at-1', tokenType: 'Bearer' });
      expect(token).not.toHaveProperty('expiresInSeconds');
    });

    it.each(['bearer', 'BEARER', 'DPoP'])('keeps token_type "%s" as the server wrote it', (tokenType) => {
      // Prepare
      const response = json({ access_token: 'at-1', token_type: tokenType, expires_in: 60 });

      // Act
      const token = parseOAuthTokenResponse(response, { now: NOW });

      // Assess
      expect(token.tokenType).toBe(tokenType);
    });

    it('accepts an expires_in of exactly 1 year', () => {
      // Prepare
      const response = json({ access_token: 'at-1', expires_in: 31_536_000 });

      // Act
      const token = parseOAuthTokenResponse(response, { now: NOW });

      // Assess
      expect(token.expiresInSeconds).toBe(31_536_000);
    });

    it('accepts a JSON body whatever its content type says', () => {
      // Prepare
      const response = text('{"access_token":"at-1","token_type":"bearer"}', 200, {
        'content-type': 'text/plain',
      });

      // Act
      const token = parseOAuthTokenResponse(response, { now: NOW });

      // Assess
      expect(token.accessToken).toBe('at-1');
    });

    it('treats null optional members as absent', () => {
      // Prepare
      const response = json({
        access_token: 'at-1',
        token_type: null,
        expires_in: null,
        refresh_token: null,
      });

      // Act
      const token = parseOAuthTokenResponse(response, { now: NOW });

      // Assess
      expect(token).toEqual({ accessToken: 'at-1', tokenType: 'Bearer' });
    });
  });

  describe('lifetimes as strings', () => {
    it('reads expires_in written as a string of digits, as Microsoft Entra ID v1 sends it', () => {
      // Prepare
      const response = json({ access_token: 'at-1', token_type: 'Bearer', expires_in: '3599' });

      // Act
      const token = parseOAuthTokenResponse(response, { now: NOW });

      // Assess
      expect(token).toMatchObject({ accessToken: 'at-1', expiresInSeconds: 3599 });
    });
  });

  describe('invalid lifetimes', () => {
    it.each([
      ['0', 0],
      ['negative', -60],
      ['a string with a unit', '3600s'],
      ['a string with a fraction', '3600.5'],
      ['a negative string', '-60'],
      ['the string "0"', '0'],
      ['the string "NaN"', 'NaN'],
      ['huge (1e12)', 1e12],
      ['one second over 1 year', 31_536_001],
      ['a boolean', true],
    ])('throws invalid_lifetime when expires_in is %s', (_label, expiresIn) => {
      // Prepare
      const response = json({ access_token: 'at-1', token_type: 'Bearer', expires_in: expiresIn });

      // Act
      const error = providerErrorOf(response);

      // Assess
      expect(error.code).toBe('invalid_lifetime');
      expect(error.kind).toBe('transient');
      expect(error.details.status).toBe(200);
      expect(error.message).toContain(LIFETIME_MESSAGE);
    });

    it('throws invalid_lifetime when expires_in is 0 and names the value, not the token', () => {
      // Prepare
      const response = json({ access_token: 'at-secret', expires_in: 0 });

      // Act
      const error = providerErrorOf(response);

      // Assess
      expect(error.message).toBe(`${LIFETIME_MESSAGE} (got 0; HTTP 200)`);
    });
  });

  describe('unusable success bodies', () => {
    it('throws unsupported_token_type when token_type is "mac" (RFC 6749 §7.1)', () => {
      // Prepare
      const response = json({ access_token: 'at-1', token_type: 'mac', expires_in: 3600 });

      // Act
      const error = providerErrorOf(response);

      // Assess
      expect(error.code).toBe('unsupported_token_type');
      expect(error.kind).toBe('permanent');
      expect(error.message).toContain('"token_type" "mac" is not supported');
    });

    it.each([
      ['an HTML page', '<html><body>Welcome! Please sign in</body></html>'],
      ['truncated JSON', '{"access_token":"at-1","expires_'],
      ['an empty body', ''],
      ['a JSON array', '["at-1"]'],
      ['a JSON string', '"at-1"'],
      ['JSON with a bare NaN (not JSON)', '{"access_token":"at-1","expires_in":NaN}'],
      ['no access_token', '{"token_type":"Bearer","expires_in":3600}'],
      ['an empty access_token', '{"access_token":"","expires_in":3600}'],
      ['a numeric access_token', '{"access_token":42}'],
      ['a non-string refresh_token', '{"access_token":"at-1","refresh_token":7}'],
      ['a non-string token_type', '{"access_token":"at-1","token_type":1}'],
    ])('throws malformed_response for a 200 with %s', (_label, bodyText) => {
      // Prepare
      const response = text(bodyText, 200, { 'content-type': 'text/html' });

      // Act
      const error = providerErrorOf(response);

      // Assess
      expect(error.code).toBe('malformed_response');
      expect(error.kind).toBe('transient');
      expect(error.details.status).toBe(200);
    });

    it('classifies a 200 carrying an OAuth error object as that error', () => {
      // Prepare
      const response = json({ error: 'invalid_grant', error_description: 'expired' });

      // Act
      const error = providerErrorOf(response);

      // Assess
      expect(error.code).toBe('invalid_grant');
      expect(error.kind).toBe('permanent');
    });
  });

  describe('RFC 6749 §5.2 error bodies', () => {
    it.each([
      'invalid_client',
      'invalid_grant',
      'unauthorized_client',
      'unsupported_grant_type',
      'invalid_scope',
      'invalid_request',
      'invalid_target',
      'access_denied',
    ])('throws permanent %s', (code) => {
      // Prepare
      const response = json({ error: code, error_description: 'Nope.' }, 400, { 'retry-after': '5' });

      // Act
      const error = providerErrorOf(response);

      // Assess
      expect(error).toMatchObject({ code, kind: 'permanent', details: { status: 400 } });
      expect(error.details.retryAfterSeconds).toBeUndefined();
      expect(error.message).toBe(`Token endpoint answered HTTP 400 with OAuth error "${code}": Nope.`);
    });

    it.each([
      ['temporarily_unavailable', 503],
      ['server_error', 500],
      ['slow_down', 400],
    ])('throws transient %s (HTTP %i)', (code, status) => {
      // Prepare
      const response = json({ error: code }, status);

      // Act
      const error = providerErrorOf(response);

      // Assess
      expect(error).toMatchObject({ code, kind: 'transient', details: { status } });
    });

    it('throws permanent invalid_client for a 401 with a WWW-Authenticate challenge', () => {
      // Prepare
      const response = json({ error: 'invalid_client' }, 401, { 'www-authenticate': 'Basic realm="token"' });

      // Act
      const error = providerErrorOf(response);

      // Assess
      expect(error).toMatchObject({ code: 'invalid_client', kind: 'permanent', details: { status: 401 } });
    });

    it('matches known error names case-insensitively', () => {
      // Prepare
      const response = json({ error: 'INVALID_GRANT' }, 400);

      // Act
      const error = providerErrorOf(response);

      // Assess
      expect(error.code).toBe('invalid_grant');
    });

    it.each([
      ['consent-required', 400, 'oauth_consent_required', 'permanent'],
      ['Weird Error!!', 403, 'oauth_error', 'permanent'],
      ['backend_down', 502, 'oauth_backend_down', 'transient'],
      ['too_many', 429, 'oauth_too_many', 'transient'],
      ['!!!', 400, 'oauth_error', 'permanent'],
    ])('maps unknown error "%s" with HTTP %i to %s (%s)', (oauthError, status, code, kind) => {
      // Prepare
      const response = json({ error: oauthError }, status);

      // Act
      const error = providerErrorOf(response);

      // Assess
      expect(error).toMatchObject({ code, kind });
    });

    // Issue 15, finding 5: codes are stored, published in events and quoted in the read function's
    // answers, so only a well-formed code survives; free text becomes the generic oauth_error.
    it.each([
      ['INVALID_DPOP_PROOF', 'oauth_invalid_dpop_proof'],
      ['request-uri-not-supported', 'oauth_request_uri_not_supported'],
      ['Your client secret is wrong', 'oauth_error'],
      ['bad secret Zq9-x', 'oauth_error'],
      ['quota_exceeded_for_account_4711', 'oauth_error'],
      ['req_8f3a9b2c', 'oauth_error'],
      ['one_two_three_four_five', 'oauth_error'],
      [`invalid_${'x'.repeat(40)}`, 'oauth_error'],
      ['invalid_client:', 'oauth_error'],
      ['café_error', 'oauth_error'],
    ])('maps the unknown error "%s" to %s: never a slug of server text', (oauthError, code) => {
      // Act
      const error = providerErrorOf(json({ error: oauthError }, 400));

      // Assess
      expect(error.code).toBe(code);
    });

    it('maps an error naming a value sent, in any letter case, to oauth_error', () => {
      // Prepare
      const response = json({ error: 'HUNTER_TWO' }, 400);

      // Act
      let error: unknown;
      try {
        parseOAuthTokenResponse(response, { now: NOW, sensitive: ['hunter_two'] });
      } catch (caught) {
        error = caught;
      }

      // Assess
      expect(error).toMatchObject({ code: 'oauth_error' });
      expect((error as Error).message).not.toMatch(/hunter_two/i);
    });

    it('limits an unknown error code to 64 characters of [a-z0-9_]', () => {
      // Prepare
      const response = json({ error: `Ünknown-${'x'.repeat(200)}` }, 400);

      // Act
      const error = providerErrorOf(response);

      // Assess
      expect(error.code).toMatch(/^oauth_[a-z0-9_]+$/);
      expect(error.code.length).toBeLessThanOrEqual(64);
    });

    it('quotes error_description cleaned of control characters and cut to 200 characters', () => {
      // Prepare
      const description = `line one\r\n\tline two ${'y'.repeat(500)}`;
      const response = json({ error: 'invalid_request', error_description: description }, 400);

      // Act
      const error = providerErrorOf(response);

      // Assess
      const quoted = error.message.split('"invalid_request": ')[1] ?? '';
      expect(quoted.startsWith('line one line two yyy')).toBe(true);
      expect(Array.from(quoted)).toHaveLength(200);
      expect(quoted.endsWith('…')).toBe(true);
    });
  });

  describe('error statuses without an OAuth error body', () => {
    it('throws transient http_502 for an HTML error page with 502', () => {
      // Prepare
      const response = text('<html><h1>502 Bad Gateway</h1></html>', 502, { 'content-type': 'text/html' });

      // Act
      const error = providerErrorOf(response);

      // Assess
      expect(error).toMatchObject({ code: 'http_502', kind: 'transient', details: { status: 502 } });
      expect(error.message).toBe('Token endpoint answered HTTP 502');
    });

    it('throws rate_limited with retryAfterSeconds from a delta-seconds Retry-After on 429', () => {
      // Prepare
      const response = text('', 429, { 'retry-after': '120' });

      // Act
      const error = providerErrorOf(response);

      // Assess
      expect(error).toMatchObject({ code: 'rate_limited', kind: 'transient' });
      expect(error.details).toEqual({ status: 429, retryAfterSeconds: 120 });
    });

    it('throws rate_limited with retryAfterSeconds from an HTTP-date Retry-After relative to now', () => {
      // Prepare
      const response = text('Slow down', 429, { 'retry-after': 'Sun, 01 Jun 2025 12:01:30 GMT' });

      // Act
      const error = providerErrorOf(response);

      // Assess
      expect(error.code).toBe('rate_limited');
      expect(error.details.retryAfterSeconds).toBe(90);
    });

    it('honours Retry-After on 503', () => {
      // Prepare
      const response = text('<html>Maintenance</html>', 503, { 'retry-after': '30' });

      // Act
      const error = providerErrorOf(response);

      // Assess
      expect(error).toMatchObject({
        code: 'http_503',
        kind: 'transient',
        details: { retryAfterSeconds: 30 },
      });
      expect(error.message).toBe('Token endpoint answered HTTP 503; retry after 30 s');
    });

    it.each([
      [500, 'transient'],
      [504, 'transient'],
      [408, 'transient'],
      [400, 'permanent'],
      [401, 'permanent'],
      [404, 'permanent'],
      [302, 'permanent'],
      [304, 'permanent'],
    ])('throws http_%i (%s)', (status, kind) => {
      // Prepare
      const response = text('', status);

      // Act
      const error = providerErrorOf(response);

      // Assess
      expect(error).toMatchObject({ code: `http_${status}`, kind, details: { status } });
    });
  });
});

describe('Function: parseRetryAfter', () => {
  it.each([
    ['delta-seconds', '45', 45],
    ['zero', '0', 0],
    ['a value above the cap', '86400', 3600],
    ['an HTTP-date in the future', 'Sun, 01 Jun 2025 12:00:10 GMT', 10],
    ['an HTTP-date in the past', 'Sun, 01 Jun 2025 11:00:00 GMT', 0],
    ['an HTTP-date far ahead', 'Mon, 01 Jun 2026 12:00:00 GMT', 3600],
  ])('parses %s', (_label, value, expected) => {
    // Act
    const seconds = parseRetryAfter(value, NOW);

    // Assess
    expect(seconds).toBe(expected);
  });

  it.each([null, undefined, '', 'soon', '-5', '1.5', '2025-06-01T12:00:10Z', 'Sun, 01 Jun 2025'])(
    'ignores %j',
    (value) => {
      // Act
      const seconds = parseRetryAfter(value, NOW);

      // Assess
      expect(seconds).toBeUndefined();
    },
  );
});

describe('Function: checkLifetimeSeconds', () => {
  it.each([Number.NaN, Number.POSITIVE_INFINITY])('throws invalid_lifetime for %s', (value) => {
    // Act
    const act = () => checkLifetimeSeconds(value, 'expires_in', 200);

    // Assess
    expect(act).toThrow(expect.objectContaining({ code: 'invalid_lifetime' }));
  });
});

describe('Function: checkExpiresAt', () => {
  it.each([
    ['an ISO-8601 string with Z', '2025-06-01T13:00:00Z', NOW + 3_600_000],
    ['an ISO-8601 string with an offset', '2025-06-01T15:00:00.500+02:00', NOW + 3_600_500],
    ['epoch seconds', NOW / 1000 + 600, NOW + 600_000],
    ['epoch seconds as a string of digits (Azure expires_on)', String(NOW / 1000 + 600), NOW + 600_000],
  ])('accepts %s', (_label, value, expected) => {
    // Act
    const expiresAt = checkExpiresAt(value, 'expires_at', 200, NOW);

    // Assess
    expect(expiresAt).toBe(expected);
  });

  it.each([
    ['in the past', '2025-06-01T11:59:59Z'],
    ['now', NOW / 1000],
    ['more than 1 year ahead', '2026-06-02T12:00:00Z'],
    ['in epoch milliseconds by mistake', NOW + 600_000],
    ['without a time zone', '2025-06-01T13:00:00'],
    ['a date only', '2025-06-02'],
    ['not a date', 'tomorrow'],
    ['an invalid hour', '2025-06-01T25:00:00Z'],
  ])('throws invalid_lifetime for a value %s', (_label, value) => {
    // Act
    const act = () => checkExpiresAt(value, 'expires_at', 200, NOW);

    // Assess
    expect(act).toThrow(expect.objectContaining({ code: 'invalid_lifetime', kind: 'transient' }));
  });
});
