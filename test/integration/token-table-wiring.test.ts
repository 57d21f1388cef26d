/**
 * The synthesized roles against the DynamoDB token store (issue 16, item 1), with moto's IAM action
 * checks on: the refresh role's statements let the refresh function write a `tokenStore: "dynamodb"`
 * provider's token and the read role's let the read function serve it; without `dynamodb:PutItem`
 * (only the token table's statement has it) the refresh fails, and without the read role's one
 * `dynamodb:GetItem` statement the read does. moto checks actions, not resources or conditions: the
 * `dynamodb:LeadingKeys` limits are asserted on the template (test/infra/token-table.test.ts).
 */
import { randomUUID } from 'node:crypto';
import type { aws_iam as iam } from 'aws-cdk-lib';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { deployedConfigJson } from '../../functions/core/config-schema.js';
import type { Logger } from '../../functions/core/ports.js';
import { readHandlerFromEnvironment, type UrlResponse } from '../../functions/read/app.js';
import { inProcessRefreshTrigger, refreshHandlerFromEnvironment } from '../../functions/refresh/app.js';
import { build } from '../infra/support.js';
import { createUserWithPolicy, type PolicyStatement } from '../support/iam.js';
import { type AwsClientConfig, type MotoServer, startMoto } from '../support/moto.js';
import { type OAuthServer, startOAuthServer } from '../support/oauth-server.js';
import { captureProcessOutput } from '../support/output.js';
import { provision } from '../support/resources.js';

const PREFIX = 'wired-ddb';
const TABLE = 'wired-ddb-state';
const TOKEN_TABLE = 'wired-ddb-tokens';
const SECRET = 'wired-ddb-secret-3e81';
const ROLE = 'arn:aws:iam::123456789012:role/ddb-consumer';
const CALLER = 'arn:aws:sts::123456789012:assumed-role/ddb-consumer/session';

class Warnings implements Logger {
  readonly seen: string[] = [];
  debug(): void {}
  info(): void {}
  warn(message: string): void {
    this.seen.push(message);
  }
  error(message: string): void {
    this.seen.push(message);
  }
}

describe('Synthesized roles × the DynamoDB token store, with moto checking IAM actions', () => {
  let moto: MotoServer;
  let oauth: OAuthServer;
  let refreshStatements: PolicyStatement[];
  let readStatements: PolicyStatement[];
  const captured: string[] = [];

  const config = () =>
    deployedConfigJson({
      secretPrefix: PREFIX,
      trustDirectInvoke: true,
      providers: [
        {
          name: 'short',
          grant: 'client_credentials',
          tokenUrl: oauth.tokenUrl,
          tokenStore: 'dynamodb',
          expectedLifetime: 120,
          consumers: [ROLE],
        },
      ],
    });
  const environment = () => ({
    TABLE_NAME: TABLE,
    TOKEN_TABLE_NAME: TOKEN_TABLE,
    PROVIDERS_CONFIG: config(),
  });
  const refreshHandler = (clientConfig: AwsClientConfig, logger: Logger) =>
    refreshHandlerFromEnvironment(environment(), {
      clientConfig: { ...clientConfig, maxAttempts: 1 },
      logger,
    });

  /** Run `work` with client config signing as a user allowed exactly `allowed`. */
  async function as<T>(allowed: readonly PolicyStatement[], work: (config: AwsClientConfig) => Promise<T>) {
    await moto.resetAuth(Number.POSITIVE_INFINITY);
    const clientConfig = await createUserWithPolicy(
      moto.clientConfig,
      `u-${randomUUID().slice(0, 8)}`,
      allowed,
    );
    await moto.resetAuth(0);
    try {
      return await work(clientConfig);
    } finally {
      await moto.resetAuth(Number.POSITIVE_INFINITY);
    }
  }

  const refreshAs = (allowed: readonly PolicyStatement[]) =>
    as(allowed, async (clientConfig) => {
      const logger = new Warnings();
      const result = await refreshHandler(clientConfig, logger)(
        { provider: 'short', force: true },
        { awsRequestId: randomUUID(), getRemainingTimeInMillis: () => 60_000 },
      );
      return { status: result.status, code: 'code' in result ? result.code : undefined };
    });

  const readAs = (allowed: readonly PolicyStatement[]) =>
    as(allowed, async (clientConfig) => {
      const read = readHandlerFromEnvironment(
        { ...environment(), REFRESH_FUNCTION_NAME: 'in-process' },
        {
          clientConfig: { ...clientConfig, maxAttempts: 1 },
          logger: new Warnings(),
          // A token exists, so no on-demand refresh is needed; one would run with full rights.
          trigger: inProcessRefreshTrigger(refreshHandler(moto.clientConfig, new Warnings())),
        },
      );
      const answer = (await read({
        version: '2.0',
        rawPath: '/tokens/short',
        headers: {},
        isBase64Encoded: false,
        requestContext: {
          http: { method: 'GET', path: '/tokens/short' },
          authorizer: { iam: { userArn: CALLER } },
        },
      })) as UrlResponse;
      return answer.statusCode;
    });

  /** The statements of every policy attached to `role` in the template. */
  const statementsOf = (built: ReturnType<typeof build>, role: iam.IRole): PolicyStatement[] => {
    const roleId = built.stack.getLogicalId(role.node.defaultChild as never);
    return Object.values(built.template.findResources('AWS::IAM::Policy'))
      .filter((policy) => JSON.stringify(policy.Properties.Roles).includes(`"${roleId}"`))
      .flatMap((policy) => policy.Properties.PolicyDocument.Statement as PolicyStatement[]);
  };

  const without = (statements: readonly PolicyStatement[], action: string, sid?: string) =>
    statements.flatMap((statement) => {
      if (sid !== undefined && (statement as { Sid?: string }).Sid !== sid) return [statement];
      const remaining = ([statement.Action].flat() as string[]).filter((name) => name !== action);
      return remaining.length === 0 ? [] : [{ ...statement, Action: remaining }];
    });

  beforeAll(async () => {
    captureProcessOutput(captured, ['stdout']);
    [moto, oauth] = await Promise.all([
      startMoto(),
      startOAuthServer({
        clients: [
          {
            clientId: 'wired-ddb',
            clientSecret: SECRET,
            tokenEndpointAuthMethod: 'client_secret_basic',
            grantTypes: ['client_credentials'],
            accessTokenTtlSeconds: 120,
          },
        ],
      }),
    ]);
    const built = build({
      secretPrefix: PREFIX,
      providers: [
        { name: 'short', grant: 'client_credentials', tokenUrl: oauth.tokenUrl, tokenStore: 'dynamodb' },
      ],
    });
    const { refresher } = built.stack;
    refreshStatements = statementsOf(built, refresher.refreshFunction.role as iam.IRole);
    readStatements = statementsOf(built, refresher.readFunction.role as iam.IRole);
    await provision({
      clientConfig: moto.clientConfig,
      tableName: TABLE,
      tokenTableName: TOKEN_TABLE,
      secretPrefix: PREFIX,
      credentials: { short: { clientId: 'wired-ddb', clientSecret: SECRET } },
      dynamodbProviders: ['short'],
    });
  });

  afterAll(async () => {
    vi.restoreAllMocks();
    await Promise.all([moto?.stop(), oauth?.stop()]);
  });

  it("refreshes with exactly the refresh role's statements, and not without the token table's PutItem", async () => {
    // Act
    const allowed = await refreshAs(refreshStatements);
    const denied = await refreshAs(without(refreshStatements, 'dynamodb:PutItem'));

    // Assess
    expect(allowed).toEqual({ status: 'refreshed', code: undefined });
    // AWS answers AccessDeniedException (dynamodb_access_denied); moto answers an IAM denial of a JSON
    // service with an XML body that the SDK cannot parse (a 403 SyntaxError: dynamodb_unavailable).
    expect(denied.status).toBe('failed');
    expect(['dynamodb_access_denied', 'dynamodb_unavailable']).toContain(denied.code);
    expect(
      refreshStatements.filter((statement) => [statement.Action].flat().includes('dynamodb:PutItem')),
    ).toEqual([expect.objectContaining({ Sid: 'TokenTable' })]);
  });

  it("serves the token with exactly the read role's statements, and not without its token table statement", async () => {
    // Act
    const allowed = await readAs(readStatements);
    const denied = await readAs(without(readStatements, 'dynamodb:GetItem', 'ReadTokenTable'));

    // Assess: the read role has no other DynamoDB action at all.
    expect(allowed).toBe(200);
    expect(denied).toBeGreaterThanOrEqual(500);
    expect(
      readStatements
        .flatMap((statement) => [statement.Action].flat())
        .filter((action) => action.startsWith('dynamodb:')),
    ).toEqual(['dynamodb:GetItem']);
  });
});
