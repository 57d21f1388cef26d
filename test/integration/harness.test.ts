import { CreateTableCommand, DynamoDBClient, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import {
  CreateSecretCommand,
  GetSecretValueCommand,
  ListSecretsCommand,
  PutSecretValueCommand,
  ResourceNotFoundException,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type MotoServer, startMoto } from '../support/moto.js';
import { type OAuthServer, startOAuthServer } from '../support/oauth-server.js';

describe('moto harness', () => {
  let moto: MotoServer;
  let secrets: SecretsManagerClient;
  let dynamo: DynamoDBClient;

  beforeAll(async () => {
    moto = await startMoto();
    // maxAttempts 1: SDK retries would show up as extra requests in the emulator-side counts.
    secrets = new SecretsManagerClient({ ...moto.clientConfig, maxAttempts: 1 });
    dynamo = new DynamoDBClient({ ...moto.clientConfig, maxAttempts: 1 });
  });

  afterAll(async () => {
    secrets?.destroy();
    dynamo?.destroy();
    await moto?.stop();
  });

  beforeEach(async () => {
    await moto.reset();
    await moto.startCounting();
  });

  it('exposes a 127.0.0.1 endpoint and SDK client config when started', () => {
    // Assess
    expect(moto.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(moto.clientConfig).toEqual({
      endpoint: moto.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
    });
    expect(moto.env.AWS_ENDPOINT_URL).toBe(moto.endpoint);
  });

  it('round-trips a secret when created and read through the SDK', async () => {
    // Prepare
    await secrets.send(new CreateSecretCommand({ Name: 'oauth/example', SecretString: '{"v":1}' }));

    // Act
    const result = await secrets.send(new GetSecretValueCommand({ SecretId: 'oauth/example' }));

    // Assess
    expect(result.SecretString).toBe('{"v":1}');
    expect(result.VersionStages).toContain('AWSCURRENT');
  });

  it('forgets all state when reset', async () => {
    // Prepare
    await secrets.send(new CreateSecretCommand({ Name: 'oauth/to-be-wiped', SecretString: 'x' }));

    // Act
    await moto.reset();

    // Assess
    const listed = await secrets.send(new ListSecretsCommand({}));
    expect(listed.SecretList ?? []).toEqual([]);
    await expect(
      secrets.send(new GetSecretValueCommand({ SecretId: 'oauth/to-be-wiped' })),
    ).rejects.toBeInstanceOf(ResourceNotFoundException);
  });

  it('counts exactly the operations received when counting was started', async () => {
    // Prepare
    await secrets.send(new CreateSecretCommand({ Name: 'oauth/counted', SecretString: 'a' }));
    await dynamo.send(
      new CreateTableCommand({
        TableName: 'leases',
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    );
    await moto.startCounting();

    // Act
    await secrets.send(new GetSecretValueCommand({ SecretId: 'oauth/counted' }));
    await secrets.send(new PutSecretValueCommand({ SecretId: 'oauth/counted', SecretString: 'b' }));
    await secrets.send(new GetSecretValueCommand({ SecretId: 'oauth/counted' }));
    await dynamo.send(
      new UpdateItemCommand({
        TableName: 'leases',
        Key: { pk: { S: 'lease#example' } },
        UpdateExpression: 'SET holder = :h',
        ExpressionAttributeValues: { ':h': { S: 'test' } },
      }),
    );

    // Assess
    expect(await moto.countOperations()).toEqual({
      'secretsmanager.GetSecretValue': 2,
      'secretsmanager.PutSecretValue': 1,
      'DynamoDB_20120810.UpdateItem': 1,
    });
  });

  it('counts requests moto rejected when the operation fails', async () => {
    // Act
    await expect(secrets.send(new GetSecretValueCommand({ SecretId: 'oauth/missing' }))).rejects.toThrow();

    // Assess
    expect(await moto.countOperations()).toEqual({ 'secretsmanager.GetSecretValue': 1 });
  });

  it('stops adding to the counts when counting is stopped', async () => {
    // Prepare
    await secrets.send(new ListSecretsCommand({}));

    // Act
    await moto.stopCounting();
    await secrets.send(new ListSecretsCommand({}));

    // Assess
    expect(await moto.countOperations()).toEqual({ 'secretsmanager.ListSecrets': 1 });
  });

  it('reports the previous auth setting when resetAuth is called', async () => {
    // Act
    const first = await moto.resetAuth(Number.POSITIVE_INFINITY);
    const second = await moto.resetAuth(Number.POSITIVE_INFINITY);

    // Assess
    expect(first.previousInitialNoAuthActionCount).toBe(Number.POSITIVE_INFINITY);
    expect(second.previousInitialNoAuthActionCount).toBe(Number.POSITIVE_INFINITY);
  });
});

describe('OAuth server harness', () => {
  const basicClient = { clientId: 'basic-client', clientSecret: 'basic secret/+:%' };
  const postClient = { clientId: 'post-client', clientSecret: 'post-secret' };
  let oauth: OAuthServer;

  beforeAll(async () => {
    oauth = await startOAuthServer({
      clients: [
        {
          ...basicClient,
          tokenEndpointAuthMethod: 'client_secret_basic',
          grantTypes: ['client_credentials'],
        },
        {
          ...postClient,
          tokenEndpointAuthMethod: 'client_secret_post',
          grantTypes: ['client_credentials', 'refresh_token'],
        },
      ],
    });
  });

  afterAll(async () => {
    await oauth?.stop();
  });

  beforeEach(() => {
    oauth.setFault(undefined);
    oauth.setAccessTokenTtl(3600);
    oauth.resetCounters();
  });

  afterEach(() => {
    expect(oauth.serverErrors).toEqual([]);
  });

  /** POSTs a form to the token endpoint, like a minimal OAuth client would. */
  async function postToken(
    params: Record<string, string>,
    init: { headers?: Record<string, string>; signal?: AbortSignal } = {},
  ): Promise<{ status: number; headers: Headers; text: string }> {
    const response = await fetch(oauth.tokenUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...init.headers },
      body: new URLSearchParams(params),
      signal: init.signal,
    });
    return { status: response.status, headers: response.headers, text: await response.text() };
  }

  /** RFC 6749 §2.3.1: id and secret are form-urlencoded before being base64-encoded. */
  function basicAuth(clientId: string, clientSecret: string): Record<string, string> {
    const encode = (value: string) => new URLSearchParams({ v: value }).toString().slice(2);
    const credentials = Buffer.from(`${encode(clientId)}:${encode(clientSecret)}`).toString('base64');
    return { authorization: `Basic ${credentials}` };
  }

  const postCredentials = { client_id: postClient.clientId, client_secret: postClient.clientSecret };

  function json(text: string): Record<string, unknown> {
    return JSON.parse(text) as Record<string, unknown>;
  }

  function decodeJwtPayload(jwt: string): Record<string, unknown> {
    const payload = jwt.split('.')[1] ?? '';
    return json(Buffer.from(payload, 'base64url').toString('utf8'));
  }

  async function refresh(refreshToken: string) {
    return postToken({ grant_type: 'refresh_token', refresh_token: refreshToken, ...postCredentials });
  }

  describe('client_credentials', () => {
    it('issues an access token when the client authenticates with client_secret_basic', async () => {
      // Act
      const response = await postToken(
        { grant_type: 'client_credentials' },
        { headers: basicAuth(basicClient.clientId, basicClient.clientSecret) },
      );

      // Assess
      expect(response.status).toBe(200);
      const body = json(response.text);
      expect(body).toMatchObject({ token_type: 'Bearer', expires_in: 3600 });
      expect(body.access_token).toEqual(expect.any(String));
      expect(oauth.tokenRequests).toEqual({ total: 1, client_credentials: 1, refresh_token: 0 });
      expect(oauth.issuedTokens).toEqual([
        { type: 'access_token', value: body.access_token, grantType: 'client_credentials' },
      ]);
    });

    it('issues an access token when the client authenticates with client_secret_post', async () => {
      // Act
      const response = await postToken({ grant_type: 'client_credentials', ...postCredentials });

      // Assess
      expect(response.status).toBe(200);
      expect(json(response.text)).toMatchObject({ token_type: 'Bearer', access_token: expect.any(String) });
      expect(oauth.tokenRequests).toEqual({ total: 1, client_credentials: 1, refresh_token: 0 });
      expect(oauth.tokenResponses).toEqual([
        { status: 200, grantType: 'client_credentials', injected: false },
      ]);
    });

    it('answers invalid_client when the client secret is wrong', async () => {
      // Act
      const response = await postToken({
        grant_type: 'client_credentials',
        client_id: postClient.clientId,
        client_secret: 'wrong',
      });

      // Assess
      expect(response.status).toBe(401);
      expect(json(response.text).error).toBe('invalid_client');
      expect(oauth.tokenRequests).toEqual({ total: 1, client_credentials: 1, refresh_token: 0 });
      expect(oauth.issuedTokens).toEqual([]);
    });

    it('issues a JWT for the audience when the request carries audience', async () => {
      // Act
      const response = await postToken({
        grant_type: 'client_credentials',
        audience: 'https://api.example.com',
        scope: 'api:read not-granted',
        ...postCredentials,
      });

      // Assess
      expect(response.status).toBe(200);
      const body = json(response.text);
      expect(body.scope).toBe('api:read');
      expect(decodeJwtPayload(String(body.access_token))).toMatchObject({
        aud: 'https://api.example.com',
        client_id: postClient.clientId,
        scope: 'api:read',
      });
    });

    it('issues a JWT for the resource when the request carries resource', async () => {
      // Act
      const response = await postToken({
        grant_type: 'client_credentials',
        resource: 'https://other.example.com',
        ...postCredentials,
      });

      // Assess
      expect(response.status).toBe(200);
      expect(decodeJwtPayload(String(json(response.text).access_token)).aud).toBe(
        'https://other.example.com',
      );
    });

    it('uses the new lifetime when the access token TTL is changed', async () => {
      // Prepare
      oauth.setAccessTokenTtl(5);

      // Act
      const response = await postToken({ grant_type: 'client_credentials', ...postCredentials });

      // Assess
      expect(json(response.text).expires_in).toBe(5);
    });
  });

  describe('refresh_token', () => {
    it('rotates the refresh token when a seeded refresh token is used', async () => {
      // Prepare
      const seeded = await oauth.seedRefreshToken({ clientId: postClient.clientId });

      // Act
      const response = await refresh(seeded);

      // Assess
      expect(response.status).toBe(200);
      const body = json(response.text);
      expect(body).toMatchObject({
        token_type: 'Bearer',
        scope: 'offline_access',
        access_token: expect.any(String),
      });
      expect(body.refresh_token).toEqual(expect.any(String));
      expect(body.refresh_token).not.toBe(seeded);
      expect(oauth.tokenRequests).toEqual({ total: 1, client_credentials: 0, refresh_token: 1 });
      expect(oauth.issuedTokens.map((token) => token.value)).toEqual([
        seeded,
        body.access_token,
        body.refresh_token,
      ]);
    });

    it('rejects the old token with invalid_grant and revokes the grant when a rotated token is reused', async () => {
      // Prepare
      const seeded = await oauth.seedRefreshToken({ clientId: postClient.clientId });
      const rotated = String(json((await refresh(seeded)).text).refresh_token);

      // Act
      const reuse = await refresh(seeded);
      const afterReuse = await refresh(rotated);

      // Assess
      expect(reuse.status).toBe(400);
      expect(json(reuse.text).error).toBe('invalid_grant');
      expect(afterReuse.status).toBe(400);
      expect(json(afterReuse.text).error).toBe('invalid_grant');
      expect(oauth.tokenResponses.map(({ status, errorDetail }) => ({ status, errorDetail }))).toEqual([
        { status: 200, errorDetail: undefined },
        { status: 400, errorDetail: 'refresh token already used' },
        { status: 400, errorDetail: 'refresh token not found' },
      ]);
    });

    it('issues access tokens for the bound resource when the seeded grant has a resource', async () => {
      // Prepare
      const seeded = await oauth.seedRefreshToken({
        clientId: postClient.clientId,
        resource: 'https://api.example.com',
      });

      // Act
      const response = await refresh(seeded);

      // Assess
      expect(response.status).toBe(200);
      expect(decodeJwtPayload(String(json(response.text).access_token)).aud).toBe('https://api.example.com');
    });
  });

  describe('fault injection', () => {
    it('answers 503 with the configured body when a status fault is set', async () => {
      // Prepare
      const page = '<html><body>Service Unavailable</body></html>';
      oauth.setFault({ kind: 'status', status: 503, body: page, headers: { 'content-type': 'text/html' } });

      // Act
      const response = await postToken({ grant_type: 'client_credentials', ...postCredentials });

      // Assess
      expect(response.status).toBe(503);
      expect(response.headers.get('content-type')).toBe('text/html');
      expect(response.text).toBe(page);
      expect(oauth.tokenRequests).toEqual({ total: 1, client_credentials: 1, refresh_token: 0 });
      expect(oauth.tokenResponses).toEqual([
        { status: 503, grantType: 'client_credentials', injected: true },
      ]);
    });

    it('answers 429 with Retry-After only as often as requested when times is set', async () => {
      // Prepare
      oauth.setFault({ kind: 'status', status: 429, headers: { 'retry-after': '7' }, times: 1 });

      // Act
      const throttled = await postToken({ grant_type: 'client_credentials', ...postCredentials });
      const next = await postToken({ grant_type: 'client_credentials', ...postCredentials });

      // Assess
      expect(throttled.status).toBe(429);
      expect(throttled.headers.get('retry-after')).toBe('7');
      expect(next.status).toBe(200);
      expect(oauth.tokenRequests).toEqual({ total: 2, client_credentials: 2, refresh_token: 0 });
    });

    it('returns the raw body when a body fault is set', async () => {
      // Prepare
      oauth.setFault({
        kind: 'body',
        status: 200,
        contentType: 'application/json',
        body: '{"access_token":"tr',
      });

      // Act
      const response = await postToken({
        grant_type: 'refresh_token',
        refresh_token: 'x',
        ...postCredentials,
      });

      // Assess
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe('application/json');
      expect(response.text).toBe('{"access_token":"tr');
      expect(oauth.tokenRequests).toEqual({ total: 1, client_credentials: 0, refresh_token: 1 });
      expect(oauth.issuedTokens).toEqual([]);
    });

    it('stalls and then processes the request when a finite delay fault is set', async () => {
      // Prepare
      oauth.setFault({ kind: 'delay', ms: 300, times: 1 });
      const started = Date.now();

      // Act
      const response = await postToken({ grant_type: 'client_credentials', ...postCredentials });

      // Assess
      expect(Date.now() - started).toBeGreaterThanOrEqual(290);
      expect(response.status).toBe(200);
      expect(oauth.tokenResponses).toEqual([
        { status: 200, grantType: 'client_credentials', injected: false },
      ]);
    });

    it('never answers when the delay is infinite', async () => {
      // Prepare
      oauth.setFault({ kind: 'delay', ms: Number.POSITIVE_INFINITY });

      // Act
      const attempt = postToken(
        { grant_type: 'client_credentials', ...postCredentials },
        { signal: AbortSignal.timeout(300) },
      );

      // Assess
      await expect(attempt).rejects.toMatchObject({ name: 'TimeoutError' });
      expect(oauth.tokenRequests).toEqual({ total: 1, client_credentials: 1, refresh_token: 0 });
      expect(oauth.tokenResponses).toEqual([]);
    });

    it('drops the connection when a disconnect fault is set', async () => {
      // Prepare
      oauth.setFault({ kind: 'disconnect', times: 1 });

      // Act
      const attempt = postToken({ grant_type: 'client_credentials', ...postCredentials });

      // Assess
      await expect(attempt).rejects.toThrow(TypeError);
      expect(oauth.tokenRequests.total).toBe(1);
    });
  });
});
