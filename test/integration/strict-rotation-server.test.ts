/**
 * The strict rotating token endpoint of `test/support` (issue #11) on its own, over real HTTP: the
 * drills trust its counters, so its rules are pinned here.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  type StrictClient,
  type StrictOAuthServer,
  startStrictOAuthServer,
} from '../support/strict-oauth-server.js';

const BASIC: StrictClient = {
  clientId: 'basic-client',
  clientSecret: 'basic-secret-9d1e',
  authMethod: 'client_secret_basic',
};
const POST: StrictClient = {
  clientId: 'post-client',
  clientSecret: 'post-secret-41c7',
  authMethod: 'client_secret_post',
};

describe('Strict rotating OAuth server (test support)', () => {
  let server: StrictOAuthServer;

  beforeAll(async () => {
    server = await startStrictOAuthServer({
      clients: [BASIC, POST],
      accessTokenTtlSeconds: 60,
    });
  });

  afterAll(async () => {
    await server?.stop();
  });

  beforeEach(() => {
    server.clearFaults();
    server.resetCounters();
  });

  /** One refresh request; `client` picks the authentication method. */
  async function refresh(
    refreshToken: string,
    client: StrictClient = BASIC,
    signal?: AbortSignal,
  ): Promise<{ status: number; body: Record<string, unknown> }> {
    const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken });
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
    if (client.authMethod === 'client_secret_basic') {
      const encode = (text: string) => encodeURIComponent(text);
      headers.authorization = `Basic ${Buffer.from(`${encode(client.clientId)}:${encode(client.clientSecret)}`).toString('base64')}`;
    } else {
      form.set('client_id', client.clientId);
      form.set('client_secret', client.clientSecret);
    }
    const response = await fetch(server.tokenUrl, {
      method: 'POST',
      headers,
      body: form,
      ...(signal === undefined ? {} : { signal }),
    });
    const text = await response.text();
    return {
      status: response.status,
      body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>),
    };
  }

  it.each([
    ['client_secret_basic', BASIC],
    ['client_secret_post', POST],
  ] as const)('rotates the refresh token on every use (%s)', async (_method, client) => {
    // Prepare
    const seeded = server.seedFamily(client.clientId);

    // Act
    const first = await refresh(seeded, client);
    const second = await refresh(String(first.body.refresh_token), client);

    // Assess
    expect(first).toMatchObject({
      status: 200,
      body: { token_type: 'Bearer', expires_in: 60, scope: 'api:read' },
    });
    expect(first.body.refresh_token).not.toBe(seeded);
    expect(second.status).toBe(200);
    expect(server.familyOf(seeded)).toMatchObject({
      revoked: false,
      issued: 3,
      latestRefreshToken: second.body.refresh_token,
    });
    expect(server.counters).toMatchObject({ tokenRequests: 2, rotations: 2, reuseDetections: 0 });
  });

  it('revokes the whole family when a spent refresh token is replayed, and only that family', async () => {
    // Prepare
    const seeded = server.seedFamily(BASIC.clientId);
    const other = server.seedFamily(BASIC.clientId);
    const rotated = await refresh(seeded);

    // Act
    const replay = await refresh(seeded);
    const latestAfterwards = await refresh(String(rotated.body.refresh_token));
    const otherFamily = await refresh(other);

    // Assess
    expect(replay).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    expect(latestAfterwards).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    expect(otherFamily.status).toBe(200);
    expect(server.familyOf(seeded)?.revoked).toBe(true);
    expect(server.counters).toMatchObject({ reuseDetections: 1, revokedFamilies: 1, rotations: 2 });
  });

  it.each([
    ['a wrong secret', { ...BASIC, clientSecret: 'wrong' }],
    ['the method the client is not registered with', { ...BASIC, authMethod: 'client_secret_post' }],
  ] as const)(
    'refuses %s with invalid_client, without spending the token',
    async (_label, client: StrictClient) => {
      // Prepare
      const seeded = server.seedFamily(BASIC.clientId);

      // Act
      const refused = await refresh(seeded, client);
      const afterwards = await refresh(seeded);

      // Assess
      expect(refused).toMatchObject({ status: 401, body: { error: 'invalid_client' } });
      expect(afterwards.status).toBe(200);
      expect(server.counters.reuseDetections).toBe(0);
    },
  );

  it('answers a queued 503 without rotating, and a bad body after rotating', async () => {
    // Prepare
    const seeded = server.seedFamily(BASIC.clientId);
    server.queueFault({ kind: 'status', status: 503 });
    server.queueFault({ kind: 'rotate-with-body', fields: { expires_in: 0, scope: 42 } });

    // Act
    const unavailable = await refresh(seeded);
    const badBody = await refresh(seeded);

    // Assess
    expect(unavailable.status).toBe(503);
    expect(badBody).toMatchObject({ status: 200, body: { expires_in: 0, scope: 42 } });
    expect(server.familyOf(seeded)?.latestRefreshToken).toBe(badBody.body.refresh_token);
    expect(server.counters).toMatchObject({ tokenRequests: 2, rotations: 1, faultsUsed: 2 });
    expect(server.pendingFaults).toBe(0);
  });

  it('rotates a stalled request at arrival: a client that gave up has lost the new refresh token', async () => {
    // Prepare
    const seeded = server.seedFamily(BASIC.clientId);
    server.queueFault({ kind: 'stall', ms: 400 });

    // Act
    const gaveUp = await refresh(seeded, BASIC, AbortSignal.timeout(100)).catch((error: Error) => error.name);
    const rotatedMeanwhile = server.familyOf(seeded)?.latestRefreshToken;
    await server.settled();
    const replay = await refresh(seeded);

    // Assess
    expect(gaveUp).toBe('TimeoutError');
    expect(rotatedMeanwhile).not.toBe(seeded);
    expect(server.counters).toMatchObject({ answersLost: 1, reuseDetections: 1, revokedFamilies: 1 });
    expect(replay).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
  });
});
