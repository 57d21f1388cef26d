/**
 * The signed-assertion kinds (issue #16) refreshed end to end through the real engine and the AWS
 * adapters on moto server, against servers that verify what they are sent:
 *
 * - oidc-provider for `clientAuth: "private_key_jwt"` (it verifies the client assertion: the signature
 *   with the client's registered key, `aud`, `exp`, `jti` replay) with client_credentials and with a
 *   rotating refresh_token grant, and for the JWT bearer grant registered on it
 *   (functions/local/jwt-bearer-grant.ts: signature, `aud`, `exp`, lifetime, `jti` replay);
 * - a 127.0.0.1 stand-in for Google's token endpoint for the `google_service_account` preset
 *   (test/support/google-token-server.ts: RS256, `kid`, `iss` = `client_email`, `aud`, `scope` claim);
 * - a 127.0.0.1 stand-in for GitHub's installation-token endpoint under a GitHub Enterprise base path
 *   (test/support/github-app-server.ts: RS256 only, `iss` = app id, `iat` backdated, `exp` ≤ 10 min).
 *
 * Provider calls are counted on the servers' side, AWS calls on the emulator's side. The last test
 * scans everything the handler printed for the keys, the assertions and the tokens.
 */
import { randomUUID } from 'node:crypto';
import { CreateScheduleGroupCommand, SchedulerClient } from '@aws-sdk/client-scheduler';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { DynamoDbStateTable } from '../../functions/aws/state-table.js';
import { SecretsManagerTokenStore } from '../../functions/aws/token-store.js';
import type { ProviderConfig } from '../../functions/core/config.js';
import { deployedConfigJson } from '../../functions/core/config-schema.js';
import type { RefreshResult } from '../../functions/core/types.js';
import { JWT_BEARER_GRANT } from '../../functions/local/oauth-server.js';
import {
  createProvider,
  type FetchFunction,
  importSigningKey,
  signJwt,
} from '../../functions/providers/index.js';
import { type RefreshHandler, refreshHandlerFromEnvironment } from '../../functions/refresh/app.js';
import { type GitHubAppServer, startGitHubAppServer } from '../support/github-app-server.js';
import { type GoogleTokenServer, startGoogleTokenServer } from '../support/google-token-server.js';
import { testKeys } from '../support/keys.js';
import { type MotoServer, startMoto } from '../support/moto.js';
import { type OAuthServer, startOAuthServer } from '../support/oauth-server.js';
import { captureProcessOutput } from '../support/output.js';
import { provision } from '../support/resources.js';

const TABLE = 'it-signed';
const PREFIX = 'it-signed';
const APP_ID = '4242';
const INSTALLATION = '777';
const BEARER_ISSUER = 'bearer-issuer';
const SCHEDULE_GROUP = 'it-signed-group';
const PROVIDERS = ['pkjwt', 'pkjwt-rotating', 'bearer', 'gcp', 'github'] as const;
const SERVICE_ACCOUNT = 'refresher@demo-project.iam.gserviceaccount.com';
const GCP_SCOPE = 'https://www.googleapis.com/auth/cloud-platform';
type Kind = (typeof PROVIDERS)[number];

describe('Signed-assertion kinds against moto server, oidc-provider and a GitHub stand-in', () => {
  let moto: MotoServer;
  let oauth: OAuthServer;
  let github: GitHubAppServer;
  let google: GoogleTokenServer;
  let handler: RefreshHandler;
  const keys = testKeys();
  const captured: string[] = [];
  /** Every assertion, app JWT and token that crossed the wire, for the leak scan. */
  const wireSecrets: string[] = [];
  const seededRefreshTokens: string[] = [];

  /** Records the assertions and app JWTs the providers send. */
  const recordingFetch: FetchFunction = async (input, init) => {
    const body =
      typeof init?.body === 'string' || init?.body instanceof URLSearchParams ? String(init.body) : '';
    const form = new URLSearchParams(body);
    for (const field of ['client_assertion', 'assertion']) {
      const value = form.get(field);
      if (value !== null) wireSecrets.push(value);
    }
    const authorization = new Headers(init?.headers).get('authorization');
    if (authorization?.startsWith('Bearer ')) wireSecrets.push(authorization.slice('Bearer '.length));
    return fetch(input, init);
  };

  const config = () => ({
    secretPrefix: PREFIX,
    providers: [
      { name: 'pkjwt', grant: 'client_credentials', tokenUrl: oauth.tokenUrl, clientAuth: 'private_key_jwt' },
      {
        name: 'pkjwt-rotating',
        grant: 'refresh_token',
        tokenUrl: oauth.tokenUrl,
        clientAuth: 'private_key_jwt',
        // The lease (30 s of remaining time here) must cover a rotating call's timeout.
        requestTimeout: 5,
      },
      {
        name: 'bearer',
        grant: 'jwt_bearer',
        tokenUrl: oauth.tokenUrl,
        scope: 'api:read',
        assertion: { issuer: BEARER_ISSUER, subject: 'svc-user', lifetime: '2m' },
      },
      {
        name: 'gcp',
        grant: 'jwt_bearer',
        preset: 'google_service_account',
        tokenUrl: google.tokenUrl,
        scope: GCP_SCOPE,
      },
      {
        name: 'github',
        grant: 'github_app',
        appId: Number(APP_ID),
        installationId: INSTALLATION,
        apiBaseUrl: github.apiBaseUrl,
        repositories: ['api'],
        permissions: { contents: 'read' },
      },
    ],
  });
  const build = () =>
    refreshHandlerFromEnvironment(
      {
        TABLE_NAME: TABLE,
        PROVIDERS_CONFIG: deployedConfigJson(config()),
        // As deployed: the next precise run is armed on the Scheduler, state changes go to EventBridge.
        SCHEDULER_GROUP: SCHEDULE_GROUP,
        SCHEDULER_ROLE_ARN: 'arn:aws:iam::123456789012:role/it-signed-scheduler',
        REFRESH_FUNCTION_ARN: 'arn:aws:lambda:us-east-1:123456789012:function:it-signed-refresh',
        EVENT_BUS_NAME: 'default',
      },
      {
        clientConfig: { ...moto.clientConfig, maxAttempts: 1 },
        providerFor: (provider: ProviderConfig) => createProvider(provider, { fetch: recordingFetch }),
      },
    );
  const context = () => ({ awsRequestId: randomUUID(), getRemainingTimeInMillis: () => 30_000 });
  const refresh = (provider: string, force?: boolean) =>
    handler(force ? { provider, force } : { provider }, context()) as Promise<RefreshResult>;
  const storedToken = async (provider: string) =>
    (
      await new SecretsManagerTokenStore({
        clientConfig: moto.clientConfig,
        secretPrefix: PREFIX,
      }).readCurrent(provider)
    ).token;
  const state = (provider: string) =>
    new DynamoDbStateTable({ clientConfig: moto.clientConfig, tableName: TABLE }).read(provider);

  /** Token-endpoint calls of one kind, counted by its server. */
  const providerCalls = (kind: Kind): number => {
    switch (kind) {
      case 'pkjwt':
        return oauth.tokenRequests.client_credentials;
      case 'pkjwt-rotating':
        return oauth.tokenRequests.refresh_token;
      case 'bearer':
        return oauth.tokenRequests[JWT_BEARER_GRANT] ?? 0;
      case 'gcp':
        return google.requests.length;
      case 'github':
        return github.requests.length;
    }
  };

  const credentials = (refreshToken: string) => ({
    pkjwt: { clientId: 'svc-jwt', privateKey: keys.rsa.privatePem, kid: 'svc-jwt-1' },
    'pkjwt-rotating': { clientId: 'app-jwt', privateKey: keys.ec.privateJwkText, refreshToken },
    bearer: { privateKey: keys.rsa.pkcs1Pem, clientId: 'bearer-client' },
    // The service account's JSON key file, as Google hands it out.
    gcp: {
      type: 'service_account',
      project_id: 'demo-project',
      private_key_id: 'gcp-key-1',
      private_key: keys.rsa.privatePem,
      client_email: SERVICE_ACCOUNT,
      client_id: '109876543210',
      auth_uri: 'https://accounts.google.com/o/oauth2/auth',
      token_uri: google.tokenUrl,
      auth_provider_x509_cert_url: 'https://www.googleapis.com/oauth2/v1/certs',
      client_x509_cert_url: 'https://www.googleapis.com/robot/v1/metadata/x509/refresher',
      universe_domain: 'googleapis.com',
    },
    github: { privateKey: keys.rsa.pkcs1Pem },
  });

  beforeAll(async () => {
    [moto, oauth, google, github] = await Promise.all([
      startMoto(),
      startOAuthServer({
        clients: [
          {
            clientId: 'svc-jwt',
            tokenEndpointAuthMethod: 'private_key_jwt',
            jwks: { keys: [{ ...keys.rsa.publicJwk, kid: 'svc-jwt-1' }] },
            grantTypes: ['client_credentials'],
          },
          {
            clientId: 'app-jwt',
            tokenEndpointAuthMethod: 'private_key_jwt',
            jwks: { keys: [keys.ec.publicJwk] },
            grantTypes: ['refresh_token'],
          },
          { clientId: 'bearer-client', tokenEndpointAuthMethod: 'none', grantTypes: [JWT_BEARER_GRANT] },
        ],
        jwtBearerIssuers: [{ issuer: BEARER_ISSUER, publicJwk: keys.rsa.publicJwk }],
      }),
      startGoogleTokenServer({
        serviceAccounts: [
          { clientEmail: SERVICE_ACCOUNT, privateKeyId: 'gcp-key-1', publicJwk: keys.rsa.publicJwk },
        ],
      }),
      startGitHubAppServer({
        basePath: '/api/v3',
        apps: [
          {
            appId: APP_ID,
            publicJwk: keys.rsa.publicJwk,
            installations: {
              [INSTALLATION]: {
                repositories: ['api', 'web'],
                permissions: { contents: 'write', metadata: 'read' },
              },
            },
          },
        ],
      }),
    ]);
    captureProcessOutput(captured);
  });

  afterAll(async () => {
    vi.restoreAllMocks();
    await Promise.all([moto?.stop(), oauth?.stop(), github?.stop(), google?.stop()]);
  });

  afterEach(() => {
    wireSecrets.push(
      ...oauth.issuedTokens.map((token) => token.value),
      ...github.secretsSeen,
      ...google.secretsSeen,
    );
  });

  beforeEach(async () => {
    await moto.reset();
    const refreshToken = await oauth.seedRefreshToken({ clientId: 'app-jwt' });
    seededRefreshTokens.push(refreshToken);
    await provision({
      clientConfig: moto.clientConfig,
      tableName: TABLE,
      secretPrefix: PREFIX,
      credentials: credentials(refreshToken),
    });
    const scheduler = new SchedulerClient(moto.clientConfig);
    await scheduler.send(new CreateScheduleGroupCommand({ Name: SCHEDULE_GROUP }));
    scheduler.destroy();
    handler = build();
    oauth.resetCounters();
    github.resetCounters();
    google.resetCounters();
  });

  it.each(PROVIDERS)(
    '%s: one provider call per generation, each verified by the server; the AWS calls of a scheduled refresh',
    async (kind) => {
      // Act: a scheduled refresh of a new provider (due), a scheduled tick (not due), a forced refresh.
      await moto.startCounting();
      const first = await refresh(kind);
      const dueOperations = await moto.countOperations();
      await moto.startCounting();
      const tick = await refresh(kind);
      const tickOperations = await moto.countOperations();
      const firstToken = await storedToken(kind);
      const callsAfterFirst = providerCalls(kind);
      await moto.startCounting();
      const second = await refresh(kind, true);
      const forcedOperations = await moto.countOperations();

      // Assess
      expect(first).toMatchObject({ status: 'refreshed', generation: 1 });
      expect(tick).toMatchObject({ status: 'fresh', reason: 'not-due' });
      expect(second).toMatchObject({ status: 'refreshed', generation: 2 });
      expect(callsAfterFirst).toBe(1);
      expect(providerCalls(kind)).toBe(2);
      const secondToken = await storedToken(kind);
      expect(secondToken?.accessToken).not.toBe(firstToken?.accessToken);
      expect(tickOperations).toEqual({ 'DynamoDB_20120810.GetItem': 1 });
      // AWS calls: the same as a secret-based grant's (the key is read with the rest of the credentials).
      const rotating = kind === 'pkjwt-rotating';
      const steady = {
        'DynamoDB_20120810.GetItem': 1,
        'DynamoDB_20120810.UpdateItem': 2,
        'secretsmanager.GetSecretValue': 2,
        'secretsmanager.PutSecretValue': rotating ? 2 : 1,
        'secretsmanager.UpdateSecretVersionStage': rotating ? 2 : 1,
        [`PUT /schedules/next-${kind}`]: 1,
      };
      // A forced refresh reads the credentials (never from the container's cache) but not the token: the
      // state item the lease came with records its version (issue 17).
      expect(forcedOperations).toEqual({ ...steady, 'secretsmanager.GetSecretValue': 1 });
      // The first refresh of a provider also creates its precise schedule (the update finds none), and
      // a rotating grant looks for an interrupted holder's AWSPENDING credentials.
      expect(dueOperations).toEqual({
        ...steady,
        'secretsmanager.GetSecretValue': rotating ? 3 : 2,
        [`POST /schedules/next-${kind}`]: 1,
      });
      expect(oauth.serverErrors).toEqual([]);
    },
  );

  it('private_key_jwt: oidc-provider accepted the client assertions, and refuses a client whose key is not registered', async () => {
    // Prepare: the client's stored key is another one than the key registered with the server.
    await refresh('pkjwt');
    const { putCredentials } = await import('../support/resources.js');
    await putCredentials(moto.clientConfig, `${PREFIX}/pkjwt/credentials`, {
      clientId: 'svc-jwt',
      privateKey: keys.otherRsa.privatePem,
    });

    // Act
    const refused = await refresh('pkjwt', true);

    // Assess: the first call passed client authentication, the second did not.
    expect(oauth.tokenResponses.map((response) => [response.status, response.error])).toEqual([
      [200, undefined],
      [401, 'invalid_client'],
    ]);
    expect(refused).toMatchObject({ status: 'failed', code: 'invalid_client', permanent: true });
    expect((await state('pkjwt'))?.lastErrorCode).toBe('invalid_client');
    expect((await storedToken('pkjwt'))?.generation).toBe(1);
  });

  it('private_key_jwt with refresh_token: the rotated refresh token is stored, the client assertion verified', async () => {
    // Act
    await refresh('pkjwt-rotating');
    await refresh('pkjwt-rotating', true);

    // Assess
    expect(oauth.tokenResponses.map((response) => response.status)).toEqual([200, 200]);
    const rotated = oauth.issuedTokens
      .filter((token) => token.type === 'refresh_token')
      .map((token) => token.value);
    expect(rotated).toHaveLength(2);
  });

  it('jwt_bearer: the registered grant checked each assertion (issuer, subject) and issued the scope asked for', async () => {
    // Act
    await refresh('bearer');

    // Assess
    expect(oauth.jwtBearerChecks).toEqual([{ accepted: true, issuer: BEARER_ISSUER, subject: 'svc-user' }]);
    expect((await storedToken('bearer'))?.scope).toBe('api:read');
  });

  it("jwt_bearer with the Google preset: the stand-in verified the key file's claims and the scope claim", async () => {
    // Act
    await refresh('gcp');

    // Assess
    expect(google.requests).toEqual([{ status: 200, scope: GCP_SCOPE }]);
    const token = await storedToken('gcp');
    expect(token?.accessToken).toMatch(/^ya29\./);
    expect(Date.parse(token?.expiresAt ?? '') - Date.parse(token?.issuedAt ?? '')).toBe(3599_000);
  });

  it('github_app: the stand-in verified the app JWT and narrowed the token; expiresAt is its expires_at', async () => {
    // Act
    const result = await refresh('github');

    // Assess
    expect(github.requests).toEqual([{ status: 201, installationId: INSTALLATION, injected: false }]);
    const token = await storedToken('github');
    expect(token?.accessToken).toMatch(/^ghs_/);
    expect(result).toMatchObject({ status: 'refreshed', expiresAt: token?.expiresAt });
    const lifetime = Date.parse(token?.expiresAt ?? '') - Date.parse(token?.issuedAt ?? '');
    expect(lifetime).toBeGreaterThan(3590_000);
    expect(lifetime).toBeLessThanOrEqual(3600_000);
  });

  it('github_app: a refused app JWT is invalid_client (permanent), a rate limit is transient with its reset', async () => {
    // Prepare
    github.queueFault({
      status: 403,
      body: { message: 'API rate limit exceeded' },
      headers: {
        'x-ratelimit-remaining': '0',
        'x-ratelimit-reset': String(Math.floor(Date.now() / 1000) + 120),
      },
    });
    const limited = await refresh('github');
    const { putCredentials } = await import('../support/resources.js');
    await putCredentials(moto.clientConfig, `${PREFIX}/github/credentials`, {
      privateKey: keys.otherRsa.privatePem,
    });

    // Act
    const refused = await refresh('github', true);

    // Assess
    expect(limited).toMatchObject({ status: 'failed', code: 'rate_limited', permanent: false });
    expect(refused).toMatchObject({ status: 'failed', code: 'invalid_client', permanent: true });
    expect(github.requests.map((request) => [request.status, request.reason])).toEqual([
      [403, undefined],
      [401, 'A JSON web token could not be verified (ERR_JWS_SIGNATURE_VERIFICATION_FAILED)'],
    ]);
  });

  describe('the servers verify what they are sent', () => {
    const post = (body: Record<string, string>) =>
      fetch(oauth.tokenUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(body),
      }).then(async (response) => ({
        status: response.status,
        body: (await response.json()) as Record<string, unknown>,
      }));
    const bearerAssertion = async (claims: Record<string, unknown>, key = keys.rsa.privatePem) =>
      signJwt(await importSigningKey(key, { provider: 'test', field: 'privateKey' }), {
        iss: BEARER_ISSUER,
        sub: 'svc-user',
        aud: oauth.tokenUrl,
        iat: Math.floor(Date.now() / 1000),
        exp: Math.floor(Date.now() / 1000) + 60,
        jti: randomUUID(),
        ...claims,
      });

    it('the JWT bearer grant refuses a replayed jti, a wrong audience, an expired assertion and a foreign key', async () => {
      // Prepare
      const replayed = await bearerAssertion({});
      const now = Math.floor(Date.now() / 1000);
      const cases = [
        replayed,
        replayed,
        await bearerAssertion({ aud: 'https://elsewhere.example.com/token' }),
        await bearerAssertion({ iat: now - 600, exp: now - 300 }),
        await bearerAssertion({}, keys.otherRsa.privatePem),
        await bearerAssertion({ exp: now + 7200 }),
      ];

      // Act
      const answers = [];
      for (const assertion of cases) {
        answers.push(await post({ grant_type: JWT_BEARER_GRANT, assertion, client_id: 'bearer-client' }));
      }

      // Assess
      expect(answers.map((answer) => [answer.status, answer.body.error])).toEqual([
        [200, undefined],
        [400, 'invalid_grant'],
        [400, 'invalid_grant'],
        [400, 'invalid_grant'],
        [400, 'invalid_grant'],
        [400, 'invalid_grant'],
      ]);
      expect(oauth.jwtBearerChecks.map((check) => check.reason)).toEqual([
        undefined,
        'assertion replayed (jti seen before)',
        'assertion refused (ERR_JWT_CLAIM_VALIDATION_FAILED)',
        'assertion refused (ERR_JWT_EXPIRED)',
        'assertion refused (ERR_JWS_SIGNATURE_VERIFICATION_FAILED)',
        'assertion lives too long',
      ]);
    });

    it('oidc-provider refuses a replayed client assertion', async () => {
      // Prepare: the client assertion our provider sent, captured on the way.
      const sent: string[] = [];
      const provider = createProvider(
        { ...config().providers[0], clientAuth: 'private_key_jwt' } as ProviderConfig,
        {
          fetch: async (input, init) => {
            sent.push(new URLSearchParams(String(init?.body)).get('client_assertion') ?? '');
            return fetch(input, init);
          },
        },
      );
      await provider.requestToken({
        credentials: credentials('unused').pkjwt,
        signal: AbortSignal.timeout(5000),
      });

      // Act
      const replay = await post({
        grant_type: 'client_credentials',
        client_id: 'svc-jwt',
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
        client_assertion: sent[0] ?? '',
      });

      // Assess
      expect(oauth.tokenResponses.map((response) => response.status)).toEqual([200, 401]);
      expect(replay).toMatchObject({ status: 401, body: { error: 'invalid_client' } });
      wireSecrets.push(...sent);
    });
  });

  it('never printed a private key, an assertion, an app JWT or a token (runs last)', () => {
    // Prepare
    const output = captured.join('');
    const keyLines = [keys.rsa.privatePem, keys.rsa.pkcs1Pem, keys.ec.privatePem, keys.otherRsa.privatePem]
      .flatMap((pem) => pem.split('\n'))
      .filter((line) => line.length > 20 && !line.startsWith('-----'));
    const jwkSecrets = [JSON.parse(keys.ec.privateJwkText).d as string];

    // Assess
    expect(wireSecrets.length).toBeGreaterThan(20);
    expect(output).toContain('"Refresh finished"');
    const leaked = [...keyLines, ...jwkSecrets, ...wireSecrets, ...seededRefreshTokens].filter((secret) =>
      output.includes(secret),
    );
    expect(leaked).toEqual([]);
  });
});
