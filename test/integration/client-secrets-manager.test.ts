/**
 * The client with source `secrets-manager` against moto server: `GetSecretValue` calls are counted on
 * the emulator's side (test/support/moto.ts), not with a mock. `withToken` runs against a real HTTP
 * API on 127.0.0.1 that refuses the old token with 401 and accepts the new one.
 *
 * Every test runs on both transports (issue 17): `fetch` (the SDK-free signed request, the default)
 * and `sdk` (the AWS SDK's client), with the same assertions: same calls, same tokens, same codes.
 * With moto's IAM checks on, moto verifies each request's SigV4 signature itself.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  CreateSecretCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { PLACEHOLDER_SECRET_STRING } from '../../functions/aws/secrets.js';
import { tokenSecretName } from '../../functions/aws/token-store.js';
import { createTokenClient, type TokenClient } from '../../functions/client/index.js';
import {
  createSecretsManagerTokenClient,
  type SecretsManagerTransport,
} from '../../functions/client/secrets-manager.js';
import { createUserWithPolicy, IAM_SETUP_REQUESTS } from '../support/iam.js';
import { type MotoServer, startMoto } from '../support/moto.js';

const PREFIX = 'it-client';
const PROVIDER = 'github';
const SECRET_ID = tokenSecretName(PREFIX, PROVIDER);
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const READS = 10_000;
const GET_SECRET_VALUE = 'secretsmanager.GetSecretValue';

/** An API that accepts only the tokens in `accepted` and counts what it was sent. */
interface Api {
  readonly url: string;
  readonly accepted: Set<string>;
  readonly seen: string[];
  close(): Promise<void>;
}

async function startApi(): Promise<Api> {
  const accepted = new Set<string>();
  const seen: string[] = [];
  const server: Server = createServer((request, response) => {
    const presented = /^Bearer (.+)$/.exec(request.headers.authorization ?? '')?.[1] ?? '';
    seen.push(presented);
    const ok = accepted.has(presented);
    response.writeHead(ok ? 200 : 401, { 'content-type': 'application/json' });
    response.end(JSON.stringify(ok ? { data: 'ok' } : { error: 'invalid_token' }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/resource`,
    accepted,
    seen,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

const TRANSPORTS: readonly SecretsManagerTransport[] = ['fetch', 'sdk'];

describe.each(TRANSPORTS)(
  'Client (source secrets-manager, transport %s) against moto server',
  (transport) => {
    let moto: MotoServer;
    let admin: SecretsManagerClient;
    let api: Api;
    let offsetMs = 0;
    const clock = { now: () => Date.now() + offsetMs };
    const startedAt = Date.now();

    /** What the refresher writes: a new AWSCURRENT version of the token secret. */
    async function writeToken(accessToken: string, generation: number, expiresAtMs: number): Promise<void> {
      await admin.send(
        new PutSecretValueCommand({
          SecretId: SECRET_ID,
          SecretString: JSON.stringify({
            provider: PROVIDER,
            accessToken,
            tokenType: 'Bearer',
            expiresAt: new Date(expiresAtMs).toISOString(),
            issuedAt: new Date(clock.now()).toISOString(),
            generation,
          }),
        }),
      );
    }

    async function getSecretValueCalls(): Promise<number> {
      return (await moto.countOperations())[GET_SECRET_VALUE] ?? 0;
    }

    /** `READS` getToken calls: a concurrent burst, then one after another. Returns the tokens seen. */
    async function readMany(client: TokenClient): Promise<Set<string>> {
      const seen = new Set<string>();
      const burst = await Promise.all(Array.from({ length: 1_000 }, () => client.getToken(PROVIDER)));
      for (const token of burst) seen.add(token.accessToken);
      for (let i = burst.length; i < READS; i++) seen.add((await client.getToken(PROVIDER)).accessToken);
      return seen;
    }

    const newClient = () =>
      createTokenClient({
        source: 'secrets-manager',
        secretPrefix: PREFIX,
        clientConfig: moto.clientConfig,
        transport,
        clock,
      });

    beforeAll(async () => {
      moto = await startMoto();
      admin = new SecretsManagerClient(moto.clientConfig);
      api = await startApi();
    });

    afterAll(async () => {
      admin?.destroy();
      await api?.close();
      await moto?.stop();
    });

    beforeEach(async () => {
      offsetMs = 0;
      api.accepted.clear();
      api.seen.length = 0;
      await moto.reset();
      await admin.send(new CreateSecretCommand({ Name: SECRET_ID, SecretString: PLACEHOLDER_SECRET_STRING }));
      await moto.startCounting();
    });

    it(`makes exactly one GetSecretValue per container for ${READS.toLocaleString('en')} reads of one token generation`, async () => {
      // Prepare
      const firstExpiresAt = startedAt + HOUR;
      await writeToken('generation-1-token', 1, firstExpiresAt);
      const containerA = newClient();
      const containerB = createSecretsManagerTokenClient({
        secretPrefix: PREFIX,
        clientConfig: moto.clientConfig,
        transport,
        clock,
      });

      // Act + Assess: one container
      expect(await readMany(containerA)).toStrictEqual(new Set(['generation-1-token']));
      expect(await getSecretValueCalls()).toBe(1);

      // a second container reads once more
      expect(await readMany(containerB)).toStrictEqual(new Set(['generation-1-token']));
      expect(await getSecretValueCalls()).toBe(2);

      // the refresher writes generation 2 (at least 60 s before expiry): before the margin, still cached
      offsetMs = firstExpiresAt - startedAt - 2 * MINUTE;
      await writeToken('generation-2-token', 2, firstExpiresAt + HOUR);
      expect(await readMany(containerA)).toStrictEqual(new Set(['generation-1-token']));
      expect(await getSecretValueCalls()).toBe(2);

      // past expiresAt − 30 s: exactly one more read, shared by the whole concurrent burst
      offsetMs = firstExpiresAt - startedAt - 30_000;
      expect(await readMany(containerA)).toStrictEqual(new Set(['generation-2-token']));
      expect(await getSecretValueCalls()).toBe(3);
    });

    it('answers token_not_ready while the secret holds the placeholder, and serves the first token once written', async () => {
      // Prepare
      const client = newClient();

      // Act
      const before = await client.getToken(PROVIDER).catch((e: unknown) => e);
      await writeToken('first-token', 1, startedAt + HOUR);
      const after = await client.getToken(PROVIDER);

      // Assess
      expect(before).toMatchObject({ name: 'TokenClientError', code: 'token_not_ready' });
      expect(after.accessToken).toBe('first-token');
      expect(await getSecretValueCalls()).toBe(2);
    });

    it.each([
      ['an expired token', () => writeToken('expired-token', 1, startedAt - 1), 'token_expired'],
      [
        "another provider's record",
        () =>
          admin.send(
            new PutSecretValueCommand({
              SecretId: SECRET_ID,
              SecretString: JSON.stringify({
                provider: 'gitlab',
                accessToken: 'gitlab-token',
                tokenType: 'Bearer',
                expiresAt: new Date(startedAt + HOUR).toISOString(),
                issuedAt: new Date(startedAt).toISOString(),
                generation: 1,
              }),
            }),
          ),
        'provider_mismatch',
      ],
    ])('never serves %s (%s)', async (_case, write, code) => {
      // Prepare
      await write();

      // Act
      const error = await newClient()
        .getToken(PROVIDER)
        .catch((e: unknown) => e);

      // Assess
      expect(error).toMatchObject({ code });
      expect((error as Error).message).not.toMatch(/expired-token|gitlab-token/);
    });

    it('answers secret_not_found for a provider without a token secret', async () => {
      // Act
      const error = await newClient()
        .getToken('unknown-provider')
        .catch((e: unknown) => e);

      // Assess
      expect(error).toMatchObject({ code: 'secret_not_found' });
    });

    it('reads with nothing but the environment a Lambda function has (and AWS_ENDPOINT_URL_SECRETS_MANAGER)', async () => {
      // Prepare
      await writeToken('environment-token', 1, startedAt + HOUR);
      const { region, credentials } = moto.clientConfig;
      for (const [name, value] of Object.entries({
        AWS_REGION: region,
        AWS_ACCESS_KEY_ID: credentials.accessKeyId,
        AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
        AWS_SESSION_TOKEN: 'session-token-of-the-function-role',
        AWS_ENDPOINT_URL_SECRETS_MANAGER: moto.endpoint,
        AWS_ENDPOINT_URL: 'http://127.0.0.1:9/',
        AWS_PROFILE: undefined,
        AWS_CONFIG_FILE: '/nonexistent/aws-config',
        AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/aws-credentials',
      })) {
        vi.stubEnv(name, value);
      }

      try {
        // Act
        const token = await createSecretsManagerTokenClient({
          secretPrefix: PREFIX,
          transport,
          clock,
        }).getToken(PROVIDER);

        // Assess
        expect(token.accessToken).toBe('environment-token');
        expect(await getSecretValueCalls()).toBe(1);
      } finally {
        vi.unstubAllEnvs();
      }
    });

    it("with moto's IAM checks on: the reader's signed request is accepted, a wrong key and a missing permission are refused", async () => {
      // Prepare: two users (IAM_SETUP_REQUESTS each, unchecked), then every request checked
      await writeToken('checked-token', 1, startedAt + HOUR);
      await moto.resetAuth(2 * IAM_SETUP_REQUESTS);
      try {
        const reader = await createUserWithPolicy(moto.clientConfig, `reader-${transport}`, [
          { Effect: 'Allow', Action: 'secretsmanager:GetSecretValue' },
        ]);
        const other = await createUserWithPolicy(moto.clientConfig, `other-${transport}`, [
          { Effect: 'Allow', Action: 'secretsmanager:ListSecrets' },
        ]);
        const clientAs = (clientConfig: typeof moto.clientConfig) =>
          createSecretsManagerTokenClient({ secretPrefix: PREFIX, clientConfig, transport, clock });
        const wrongKey = {
          ...reader,
          credentials: { ...reader.credentials, secretAccessKey: 'not-the-secret-key-of-the-reader' },
        };

        // Act
        const read = await clientAs(reader).getToken(PROVIDER);
        const refused = await Promise.all(
          [wrongKey, other].map((config) =>
            clientAs(config)
              .getToken(PROVIDER)
              .catch((e: unknown) => e),
          ),
        );

        // Assess: moto checked the signature and the action. It answers its refusals with an XML body
        // (AWS answers AccessDeniedException in JSON: access_denied, see the unit tests), which neither
        // transport reads as an AWS error: read_failed on both.
        expect(read.accessToken).toBe('checked-token');
        for (const error of refused) {
          expect(error).toMatchObject({ name: 'TokenClientError', code: 'read_failed', status: undefined });
          expect((error as Error).message).toMatch(
            /^Reading token secret "it-client\/github\/token" failed \(\w+\)$/,
          );
        }
        const shown = JSON.stringify(refused) + refused.map(String).join();
        expect(shown).not.toContain(reader.credentials.secretAccessKey);
        expect(shown).not.toContain('checked-token');
      } finally {
        await moto.resetAuth(Number.POSITIVE_INFINITY);
      }
    });

    describe('withToken against a real HTTP API', () => {
      it('after a 401 re-reads the secret and retries once with the token the refresher wrote meanwhile', async () => {
        // Prepare: the consumer has generation 1 cached; the refresher replaced it, the API only takes 2
        await writeToken('old-token', 1, startedAt + HOUR);
        const client = newClient();
        await client.getToken(PROVIDER);
        await writeToken('new-token', 2, startedAt + 2 * HOUR);
        api.accepted.add('new-token');

        // Act
        const response = await client.withToken(PROVIDER, (token) =>
          fetch(api.url, { headers: { authorization: `${token.tokenType} ${token.accessToken}` } }),
        );

        // Assess
        expect(response.status).toBe(200);
        expect(await response.json()).toStrictEqual({ data: 'ok' });
        expect(api.seen).toStrictEqual(['old-token', 'new-token']);
        expect(await getSecretValueCalls()).toBe(2);
        expect((await client.getToken(PROVIDER)).accessToken).toBe('new-token');
        expect(await getSecretValueCalls()).toBe(2);
      });

      it('returns the 401 without a retry when the secret still holds the refused token', async () => {
        // Prepare
        await writeToken('revoked-token', 1, startedAt + HOUR);
        const client = newClient();

        // Act
        const response = await client.withToken(PROVIDER, (token) =>
          fetch(api.url, { headers: { authorization: `Bearer ${token.accessToken}` } }),
        );

        // Assess
        expect(response.status).toBe(401);
        expect(api.seen).toStrictEqual(['revoked-token']);
        expect(await getSecretValueCalls()).toBe(2);
      });

      it('returns a second 401 to the caller instead of looping', async () => {
        // Prepare: the API refuses both the old and the new token
        await writeToken('old-token', 1, startedAt + HOUR);
        const client = newClient();
        await client.getToken(PROVIDER);
        await writeToken('new-but-refused-token', 2, startedAt + 2 * HOUR);

        // Act
        const response = await client.withToken(PROVIDER, (token) =>
          fetch(api.url, { headers: { authorization: `Bearer ${token.accessToken}` } }),
        );

        // Assess
        expect(response.status).toBe(401);
        expect(api.seen).toStrictEqual(['old-token', 'new-but-refused-token']);
        expect(await getSecretValueCalls()).toBe(2);
      });
    });
  },
);
