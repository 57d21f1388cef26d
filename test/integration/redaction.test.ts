/**
 * Issue 15, finding 5, against real parts: moto server (Secrets Manager, DynamoDB, EventBridge, SQS)
 * and a token endpoint on 127.0.0.1 that echoes what it received.
 *
 * - Redaction: the real client_credentials and refresh_token providers send their credentials (an
 *   `Authorization: Basic` header or a form body); the endpoint echoes them back in every form of
 *   `test/support/credential-echoes.ts`, in `error_description` and in a non-JSON body. Neither the
 *   CLI's output (its `detail:` line and, with `--debug`, the engine's log lines with
 *   `errorMessage`) nor the refresh function's own log holds any of them.
 * - Error codes: an endpoint answering free text as its OAuth `error` never gets that text, or a slug
 *   of it, into the stored `lastErrorCode`, the state-change event, or the read function's 503 (its
 *   reader's answer, which the handler returns as it is).
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventBridgeClient, PutRuleCommand, PutTargetsCommand } from '@aws-sdk/client-eventbridge';
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { DynamoDbStateTable } from '../../functions/aws/state-table.js';
import { SecretsManagerTokenStore } from '../../functions/aws/token-store.js';
import { run } from '../../functions/cli/main.js';
import { deployedConfigJson } from '../../functions/core/config-schema.js';
import { ERROR_CODE_PATTERN } from '../../functions/core/errors.js';
import { type Logger, systemClock } from '../../functions/core/ports.js';
import { TokenReader, TokenUnavailableError } from '../../functions/core/read.js';
import type { RefreshResult } from '../../functions/core/types.js';
import { writeLocalSession } from '../../functions/local/session.js';
import { inProcessRefreshTrigger, refreshHandlerFromEnvironment } from '../../functions/refresh/app.js';
import {
  base64,
  type EchoForm,
  echoesCredential,
  echoForms,
  type ReceivedRequest,
} from '../support/credential-echoes.js';
import { type MotoServer, startMoto } from '../support/moto.js';
import { captureProcessOutput } from '../support/output.js';
import { provision } from '../support/resources.js';

const TABLE = 'redaction-state';
const PREFIX = 'redaction-it';
const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
/** Quote, backslash, slash, space, plus, percent, colon, a non-ASCII letter, a non-BMP character. */
const CREDENTIALS = {
  clientId: 'svc:id/1+"x',
  clientSecret: 'Zq"s3\\cr/e t+%é😀:k',
  refreshToken: 'rt/"+ 0a\\b-seeded',
};
/** Server text answered as the OAuth `error`: none of it may become a code. */
const FREE_TEXTS = [
  'Account ACME-4711 suspended; contact billing',
  `client secret ${CREDENTIALS.clientSecret} rejected`,
  'Tenant_Kestrel_Overdue_Quota_Exceeded',
];

/** What the endpoint does with the next requests. */
type Mode =
  | { readonly kind: 'echo'; readonly form: EchoForm[1]; readonly where: 'json' | 'text' }
  | { readonly kind: 'error'; readonly error: string };

/** A token endpoint on 127.0.0.1 that echoes the request or answers a chosen OAuth error. */
async function startEchoServer(): Promise<{
  readonly url: string;
  readonly echoed: string[];
  setMode(mode: Mode): void;
  stop(): Promise<void>;
}> {
  let mode: Mode = { kind: 'error', error: 'temporarily_unavailable' };
  const echoed: string[] = [];
  const server: Server = createServer(async (request, response) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const received: ReceivedRequest = {
      authorization: request.headers.authorization ?? '',
      body: Buffer.concat(chunks).toString('utf8'),
    };
    if (mode.kind === 'error') {
      response.writeHead(400, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ error: mode.error, error_description: `because: ${mode.error}` }));
      return;
    }
    const echo = mode.form(received);
    echoed.push(echo);
    if (mode.where === 'text') {
      response.writeHead(502, { 'content-type': 'text/plain; charset=utf-8' });
      response.end(`upstream said: ${echo}`);
      return;
    }
    response.writeHead(401, { 'content-type': 'application/json' });
    response.end(JSON.stringify({ error: 'invalid_client', error_description: `received ${echo}` }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/token`,
    echoed,
    setMode: (next) => {
      mode = next;
    },
    stop: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

describe('Redaction and error codes against moto server and an echoing token endpoint', () => {
  let moto: MotoServer;
  let endpoint: Awaited<ReturnType<typeof startEchoServer>>;
  let cwd: string;
  let queueUrl: string;
  const captured: string[] = [];

  const providers = () => [
    { name: 'cc-basic', grant: 'client_credentials', tokenUrl: endpoint.url, requestTimeout: 5 },
    {
      name: 'cc-post',
      grant: 'client_credentials',
      clientAuth: 'client_secret_post',
      tokenUrl: endpoint.url,
      requestTimeout: 5,
    },
    { name: 'rt', grant: 'refresh_token', tokenUrl: endpoint.url, requestTimeout: 5 },
    ...FREE_TEXTS.map((_text, index) => ({
      name: `free-${index}`,
      grant: 'client_credentials',
      tokenUrl: endpoint.url,
      requestTimeout: 5,
    })),
  ];
  const config = () => ({ secretPrefix: PREFIX, providers: providers() });
  const refreshHandler = () =>
    refreshHandlerFromEnvironment(
      { TABLE_NAME: TABLE, EVENT_BUS_NAME: 'default', PROVIDERS_CONFIG: deployedConfigJson(config()) },
      { clientConfig: { ...moto.clientConfig, maxAttempts: 1 } },
    );

  async function cli(argv: string[]): Promise<string> {
    let printed = '';
    const write = { write: (text: string) => (printed += text) };
    await run(argv, { cwd, stdout: write, stderr: write, env: {} });
    return printed;
  }

  /**
   * What a fresh read-function container (no cache) answers: the read function's handler puts the
   * reader's `TokenUnavailableError` status, code and message in its response as they are. The reader
   * is used directly so that this test does not depend on how callers prove their identity.
   */
  async function readToken(provider: string): Promise<{ status: number; code: string; message: string }> {
    const reader = new TokenReader({
      tokens: new SecretsManagerTokenStore({ clientConfig: moto.clientConfig, secretPrefix: PREFIX }),
      trigger: inProcessRefreshTrigger(refreshHandler()),
      clock: systemClock,
      logger: silentLogger,
      refreshWaitMs: 10_000,
    });
    try {
      await reader.get(provider);
    } catch (error) {
      if (error instanceof TokenUnavailableError) {
        return { status: error.status, code: error.code, message: error.message };
      }
      throw error;
    }
    throw new Error(`a token of ${provider} was served`);
  }

  beforeAll(async () => {
    [moto, endpoint] = await Promise.all([startMoto(), startEchoServer()]);
    await provision({
      clientConfig: moto.clientConfig,
      tableName: TABLE,
      secretPrefix: PREFIX,
      credentials: Object.fromEntries(providers().map((provider) => [provider.name, CREDENTIALS])),
    });
    const sqs = new SQSClient(moto.clientConfig);
    queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: 'redaction-events' }))).QueueUrl ?? '';
    const queueArn = (
      await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }))
    ).Attributes?.QueueArn;
    sqs.destroy();
    const eventBridge = new EventBridgeClient(moto.clientConfig);
    await eventBridge.send(
      new PutRuleCommand({ Name: 'token-refresher-events', EventPattern: '{"source":["token-refresher"]}' }),
    );
    await eventBridge.send(
      new PutTargetsCommand({ Rule: 'token-refresher-events', Targets: [{ Id: 'queue', Arn: queueArn }] }),
    );
    eventBridge.destroy();
    cwd = mkdtempSync(join(tmpdir(), 'redaction-'));
    const configFile = join(cwd, 'config.json');
    writeFileSync(configFile, JSON.stringify(config()));
    writeLocalSession(
      {
        pid: process.pid,
        awsEndpoint: moto.endpoint,
        region: moto.clientConfig.region,
        tableName: TABLE,
        secretPrefix: PREFIX,
        configFile,
        readUrl: 'http://127.0.0.1:9/',
        startedAt: new Date().toISOString(),
      },
      cwd,
    );
    captureProcessOutput(captured);
  });

  afterAll(async () => {
    vi.restoreAllMocks();
    await Promise.all([moto?.stop(), endpoint?.stop()]);
  });

  /** Nothing secret in `text`: no credential as stored, in base64, or in the form just echoed. */
  function expectNoCredential(text: string, echo: string): void {
    const { clientSecret, refreshToken } = CREDENTIALS;
    for (const secret of [
      clientSecret,
      refreshToken,
      base64(clientSecret),
      ...(echoesCredential(echo) ? [echo] : []),
    ]) {
      expect(text).not.toContain(secret);
    }
  }

  describe.each(['cc-basic', 'cc-post', 'rt'])('Provider: %s', (provider) => {
    it.each(echoForms(CREDENTIALS))(
      'keeps %s, echoed in error_description, out of the CLI detail and the logged errorMessage',
      async (_label, form) => {
        // Prepare
        endpoint.setMode({ kind: 'echo', form, where: 'json' });
        const before = endpoint.echoed.length;

        // Act
        const printed = await cli(['refresh', provider, '--debug']);

        // Assess: the failure and its redacted description were printed, and nothing secret.
        const echo = endpoint.echoed[before] ?? '';
        expect(endpoint.echoed).toHaveLength(before + 1);
        expect(printed).toContain(
          'detail: Token endpoint answered HTTP 401 with OAuth error "invalid_client": received',
        );
        expect(printed).toContain('"errorMessage":"Token endpoint answered HTTP 401');
        if (echoesCredential(echo)) expect(printed).toContain('[redacted]');
        expectNoCredential(printed, echo);
      },
    );
  });

  it.each(echoForms(CREDENTIALS))(
    "keeps %s out of the refresh function's own log (error_description and a non-JSON body)",
    async (_label, form) => {
      // Prepare
      const before = endpoint.echoed.length;
      const logStart = captured.length;

      // Act
      endpoint.setMode({ kind: 'echo', form, where: 'json' });
      const described = (await refreshHandler()(
        { provider: 'cc-basic', force: true },
        { awsRequestId: randomUUID(), getRemainingTimeInMillis: () => 60_000 },
      )) as RefreshResult;
      endpoint.setMode({ kind: 'echo', form, where: 'text' });
      const plain = await cli(['refresh', 'cc-basic', '--debug']);

      // Assess
      expect(described).toMatchObject({ status: 'failed', code: 'invalid_client' });
      expect(plain).toContain('detail: Token endpoint answered HTTP 502');
      const logged = captured.slice(logStart).join('');
      expect(logged).toContain('Token endpoint answered HTTP 401 with OAuth error');
      for (const echo of endpoint.echoed.slice(before)) {
        expectNoCredential(logged, echo);
        expectNoCredential(plain, echo);
      }
    },
  );

  it("never turns server text into the stored code, the event's code or the read function's 503", async () => {
    // Act: per provider, a read that triggers an on-demand refresh, then one the stored failure blocks.
    const answers: { status: number; code: string; message: string }[] = [];
    for (const [index, text] of FREE_TEXTS.entries()) {
      endpoint.setMode({ kind: 'error', error: text });
      answers.push(await readToken(`free-${index}`), await readToken(`free-${index}`));
    }
    const table = new DynamoDbStateTable({ clientConfig: moto.clientConfig, tableName: TABLE });
    const states = await Promise.all(FREE_TEXTS.map((_text, index) => table.read(`free-${index}`)));
    const sqs = new SQSClient(moto.clientConfig);
    const messages = (
      await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10 }))
    ).Messages;
    sqs.destroy();
    const events = (messages ?? [])
      .map(
        (message) =>
          JSON.parse(message.Body ?? '{}') as { detail: { provider?: string; errorCode?: string } },
      )
      .filter((event) => event.detail.provider?.startsWith('free-'));

    // Assess
    expect(answers.map((answer) => answer.status)).toEqual([503, 503, 503, 503, 503, 503]);
    for (const answer of answers) {
      expect(answer).toMatchObject({
        code: 'refresh_failed',
        message: expect.stringContaining('the refresh failed with oauth_error (permanent'),
      });
    }
    expect(states.map((state) => state?.lastErrorCode)).toEqual([
      'oauth_error',
      'oauth_error',
      'oauth_error',
    ]);
    expect(events.map((event) => [event.detail.provider, event.detail.errorCode])).toEqual(
      FREE_TEXTS.map((_text, index) => [`free-${index}`, 'oauth_error']),
    );
    const everything = JSON.stringify([answers, states, events]).toLowerCase();
    for (const word of ['acme', '4711', 'suspended', 'billing', 'rejected', 'kestrel', 'overdue', 'quota']) {
      expect(everything).not.toContain(word);
    }
    for (const state of states) expect(state?.lastErrorCode).toMatch(ERROR_CODE_PATTERN);
    expectNoCredential(JSON.stringify([answers, states, events]), '');
  });
});
