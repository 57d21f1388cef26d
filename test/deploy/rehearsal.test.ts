/**
 * The deploy rehearsal (issue 14): `cdk bootstrap` and `cdk deploy` of the repo's app, with the CDK CLI
 * pointed at moto (serialized_moto.py with moto_cfn.py: the CloudFormation resource types and fixes moto
 * lacks), then the deployed resources are read back through the service APIs and the **deployed**
 * refresh bundle (the asset in cdk.out) runs with the deployed function's environment.
 *
 * Not exercised: Lambda's runtime (moto runs no code without Docker; the bundle runs in this process),
 * IAM enforcement, schedules firing, alarm delivery, real CloudFormation ordering.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { CloudFormationClient, ListStackResourcesCommand } from '@aws-sdk/client-cloudformation';
import {
  DescribeContinuousBackupsCommand,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import {
  GetFunctionConfigurationCommand,
  GetFunctionUrlConfigCommand,
  LambdaClient,
} from '@aws-sdk/client-lambda';
import { GetScheduleCommand, ListSchedulesCommand, SchedulerClient } from '@aws-sdk/client-scheduler';
import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MotoServer, startMoto } from '../support/moto.js';
import { type OAuthServer, startOAuthServer } from '../support/oauth-server.js';
import { putCredentials } from '../support/resources.js';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../..');
const CDK = join(ROOT, 'node_modules/.bin/cdk');
const ACCOUNT = '123456789012';
const PREFIX = 'rehearsal';
const SECRET_CC = 'rehearsal-cc-secret-41d7';
const SECRET_RT = 'rehearsal-rt-secret-93ac';

type Resource = { Type: string; Properties?: Record<string, unknown>; Metadata?: Record<string, unknown> };
type Template = { Resources: Record<string, Resource> };

/** Wall-clock time of each phase, reported (never asserted). */
const phases: Record<string, number> = {};
async function timed<T>(phase: string, action: () => Promise<T>): Promise<T> {
  const start = performance.now();
  try {
    return await action();
  } finally {
    phases[phase] = Math.round(performance.now() - start);
  }
}

/** One alarm of DescribeAlarms (its XML member) against its template properties. */
function expectAlarm(block: string, properties: Record<string, unknown>): void {
  const field = (name: string) => new RegExp(`<${name}>([^<]*)</${name}>`).exec(block)?.[1];
  expect(field('ComparisonOperator')).toBe(properties.ComparisonOperator);
  expect(Number(field('EvaluationPeriods'))).toBe(properties.EvaluationPeriods);
  expect(Number(field('Threshold'))).toBe(properties.Threshold);
  if (properties.MetricName !== undefined) {
    expect(field('MetricName')).toBe(properties.MetricName);
    expect(field('Namespace')).toBe(properties.Namespace);
  }
  const actions = /<AlarmActions>(.*?)<\/AlarmActions>/.exec(block)?.[1] ?? '';
  const expectedActions = (properties.AlarmActions as unknown[] | undefined)?.length ?? 0;
  expect(actions.split('<member>').length - 1).toBe(expectedActions);
  if (expectedActions > 0) expect(actions).toMatch(/arn:aws:sns:us-east-1:123456789012:/);
}

describe('deploy rehearsal on the emulator', () => {
  let moto: MotoServer;
  let oauth: OAuthServer;
  let work: string;
  let outdir: string;
  let template: Template;
  /** Logical id → physical id, from CloudFormation. */
  let physical: Record<string, string>;
  let cliEnv: NodeJS.ProcessEnv;
  let config: string;
  const providers: object[] = [];

  const cdk = (args: string[], cwd: string) =>
    run(CDK, args, { cwd, env: cliEnv, maxBuffer: 64 * 1024 * 1024, timeout: 240_000 });

  const deploy = () =>
    cdk(
      ['deploy', '-o', outdir, '-c', `config=${config}`, '--require-approval', 'never', 'TokenRefresher'],
      ROOT,
    );
  const exists = async (check: () => Promise<unknown>) =>
    check().then(
      () => true,
      () => false,
    );

  /**
   * Runs `use` with the handler of the deployed function whose template environment has `variable`:
   * its asset from cdk.out (the function's `aws:asset:path`), its configured handler, and its deployed
   * environment (plus the emulator's endpoint and credentials) in process.env.
   */
  async function runDeployed<T>(
    variable: string,
    use: (handler: (event: unknown, context: unknown) => Promise<unknown>) => Promise<T>,
  ): Promise<T> {
    const variables = (r: Resource) =>
      (r.Properties?.Environment as { Variables: object } | undefined)?.Variables ?? {};
    const found = ofType('AWS::Lambda::Function').find(([, r]) => Object.hasOwn(variables(r), variable));
    if (found === undefined) throw new Error(`no function with ${variable}`);
    const [id, resource] = found;
    const lambda = new LambdaClient(moto.clientConfig);
    const config = await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: physical[id] }));
    lambda.destroy();
    const [file, exported] = (config.Handler ?? '').split('.');
    const bundle = join(outdir, resource.Metadata?.['aws:asset:path'] as string, `${file}.mjs`);
    const saved = { ...process.env };
    Object.assign(process.env, config.Environment?.Variables, moto.env);
    try {
      const module = (await import(pathToFileURL(bundle).href)) as Record<string, unknown>;
      return await use(module[exported as string] as (event: unknown, context: unknown) => Promise<unknown>);
    } finally {
      for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
      Object.assign(process.env, saved);
    }
  }

  const ofType = (type: string) => Object.entries(template.Resources).filter(([, r]) => r.Type === type);
  const only = (type: string): [string, Resource] => {
    const found = ofType(type);
    if (found.length !== 1 || found[0] === undefined)
      throw new Error(`expected one ${type}, found ${found.length}`);
    return found[0];
  };

  beforeAll(async () => {
    process.env.TOKEN_REFRESHER_MOTO_CFN = '1';
    [moto, oauth] = await Promise.all([
      startMoto(),
      startOAuthServer({
        clients: [
          {
            clientId: 'rehearsal-cc',
            clientSecret: SECRET_CC,
            tokenEndpointAuthMethod: 'client_secret_basic',
            grantTypes: ['client_credentials'],
          },
          {
            clientId: 'rehearsal-rt',
            clientSecret: SECRET_RT,
            tokenEndpointAuthMethod: 'client_secret_basic',
            grantTypes: ['refresh_token'],
          },
        ],
      }),
    ]);
    delete process.env.TOKEN_REFRESHER_MOTO_CFN;
    work = await mkdtemp(join(tmpdir(), 'deploy-rehearsal-'));
    // Inside the repository, so the bundles' external AWS SDK imports resolve from its node_modules.
    outdir = join(ROOT, 'node_modules/.cache/deploy-rehearsal', randomUUID(), 'cdk.out');
    await mkdir(outdir, { recursive: true });
    config = join(work, 'config.json');
    providers.push(
      { name: 'cc', grant: 'client_credentials', tokenUrl: oauth.tokenUrl, refreshBefore: '5m' },
      { name: 'rt', grant: 'refresh_token', tokenUrl: oauth.tokenUrl, refreshBefore: '10m' },
    );
    await writeFile(config, JSON.stringify({ secretPrefix: PREFIX, providers }));
    cliEnv = {
      ...process.env,
      ...moto.env,
      AWS_ENDPOINT_URL: moto.endpoint,
      AWS_ACCESS_KEY_ID: 'testing',
      AWS_SECRET_ACCESS_KEY: 'testing',
      AWS_REGION: 'us-east-1',
      AWS_DEFAULT_REGION: 'us-east-1',
      // moto misreads the template URL the CLI builds for a custom endpoint.
      AWS_ENDPOINT_URL_S3_FOR_CLOUDFORMATION: 'https://s3.us-east-1.amazonaws.com',
      CDK_DISABLE_VERSION_CHECK: '1',
    };
    // Outside the app directory: inside it, bootstrap rewrites cdk.out without bundling.
    await timed('bootstrap', () => cdk(['bootstrap', `aws://${ACCOUNT}/us-east-1`], work));
    await timed('deploy', () =>
      cdk(
        ['deploy', '-o', outdir, '-c', `config=${config}`, '--require-approval', 'never', 'TokenRefresher'],
        ROOT,
      ),
    );
    template = JSON.parse(await readFile(join(outdir, 'TokenRefresher.template.json'), 'utf8')) as Template;
    const cfn = new CloudFormationClient(moto.clientConfig);
    const listed = await cfn.send(new ListStackResourcesCommand({ StackName: 'TokenRefresher' }));
    cfn.destroy();
    physical = Object.fromEntries(
      (listed.StackResourceSummaries ?? []).map((r) => [
        r.LogicalResourceId ?? '',
        r.PhysicalResourceId ?? '',
      ]),
    );
  });

  afterAll(async () => {
    console.log(`deploy rehearsal phases (ms): ${JSON.stringify(phases)}`);
    await Promise.all([moto?.stop(), oauth?.stop()]);
    if (work) await rm(work, { recursive: true, force: true });
    if (outdir) await rm(resolve(outdir, '..'), { recursive: true, force: true });
  });

  it('creates every template resource', () => {
    const expected = Object.keys(template.Resources).filter(
      (id) => template.Resources[id]?.Type !== 'AWS::CDK::Metadata',
    );
    expect(expected.filter((id) => !physical[id])).toEqual([]);
  });

  it('deploys the secrets with their KMS key and the table with SSE, TTL and PITR', async () => {
    const secrets = new SecretsManagerClient(moto.clientConfig);
    const dynamodb = new DynamoDBClient(moto.clientConfig);
    try {
      const [keyId] = only('AWS::KMS::Key');
      const keyArn = `arn:aws:kms:us-east-1:${ACCOUNT}:key/${physical[keyId as string]}`;
      for (const [, resource] of ofType('AWS::SecretsManager::Secret')) {
        const properties = resource.Properties ?? {};
        const described = await secrets.send(
          new DescribeSecretCommand({ SecretId: properties.Name as string }),
        );
        expect(described.Description).toBe(properties.Description);
        expect(described.KmsKeyId).toBe(keyArn);
      }
      const [tableId, table] = only('AWS::DynamoDB::Table');
      const TableName = physical[tableId as string];
      const tableProperties = table?.Properties ?? {};
      const described = await dynamodb.send(new DescribeTableCommand({ TableName }));
      expect(described.Table?.SSEDescription).toMatchObject({ Status: 'ENABLED', KMSMasterKeyArn: keyArn });
      const ttl = await dynamodb.send(new DescribeTimeToLiveCommand({ TableName }));
      expect(ttl.TimeToLiveDescription).toMatchObject({
        TimeToLiveStatus: 'ENABLED',
        AttributeName: (tableProperties.TimeToLiveSpecification as { AttributeName: string }).AttributeName,
      });
      const backups = await dynamodb.send(new DescribeContinuousBackupsCommand({ TableName }));
      expect(
        backups.ContinuousBackupsDescription?.PointInTimeRecoveryDescription?.PointInTimeRecoveryStatus,
      ).toBe('ENABLED');
    } finally {
      secrets.destroy();
      dynamodb.destroy();
    }
  });

  it('deploys the schedules with their target, input, retry policy, DLQ and window', async () => {
    const scheduler = new SchedulerClient(moto.clientConfig);
    try {
      const schedules = ofType('AWS::Scheduler::Schedule');
      expect(schedules).toHaveLength(2);
      for (const [id, resource] of schedules) {
        const properties = resource.Properties ?? {};
        const schedule = await scheduler.send(
          new GetScheduleCommand({ Name: physical[id], GroupName: properties.GroupName as string }),
        );
        const target = properties.Target as Record<string, unknown>;
        expect(schedule.ScheduleExpression).toBe(properties.ScheduleExpression);
        expect(schedule.FlexibleTimeWindow).toEqual(properties.FlexibleTimeWindow);
        expect(schedule.Target?.Input).toBe(target.Input);
        expect(schedule.Target?.RetryPolicy).toEqual(target.RetryPolicy);
        expect(schedule.Target?.Arn).toMatch(/^arn:aws:lambda:us-east-1:123456789012:function:/);
        expect(schedule.Target?.DeadLetterConfig?.Arn).toMatch(/^arn:aws:sqs:us-east-1:123456789012:/);
      }
    } finally {
      scheduler.destroy();
    }
  });

  it("deploys the functions with the template's environment and architecture, and the read URL with IAM auth", async () => {
    const lambda = new LambdaClient(moto.clientConfig);
    try {
      for (const [id, resource] of ofType('AWS::Lambda::Function')) {
        const properties = resource.Properties ?? {};
        const config = await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: physical[id] }));
        const variables = (properties.Environment as { Variables: Record<string, unknown> }).Variables;
        expect(Object.keys(config.Environment?.Variables ?? {}).sort()).toEqual(
          Object.keys(variables).sort(),
        );
        for (const [name, value] of Object.entries(variables)) {
          if (typeof value === 'string') expect(config.Environment?.Variables?.[name]).toBe(value);
          else expect(config.Environment?.Variables?.[name]).toBeTruthy();
        }
        expect(config.Architectures).toEqual(properties.Architectures ?? ['x86_64']);
      }
      const [, url] = only('AWS::Lambda::Url');
      const urlProperties = url?.Properties ?? {};
      const targetId = (urlProperties.TargetFunctionArn as { 'Fn::GetAtt': string[] })[
        'Fn::GetAtt'
      ][0] as string;
      const urlConfig = await lambda.send(
        new GetFunctionUrlConfigCommand({ FunctionName: physical[targetId] }),
      );
      expect(urlConfig.AuthType).toBe(urlProperties.AuthType);
    } finally {
      lambda.destroy();
    }
  });

  it('deploys the alarms with their metric, threshold, comparison, periods and actions', async () => {
    // No CloudWatch client in the project: DescribeAlarms over the query protocol.
    const response = await fetch(moto.endpoint, {
      method: 'POST',
      headers: {
        authorization:
          'AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/monitoring/aws4_request, SignedHeaders=host, Signature=0',
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: 'Action=DescribeAlarms&Version=2010-08-01&MaxRecords=100',
    });
    const xml = await response.text();
    const blocks = new Map(
      xml
        .split('<member><AlarmName>')
        .slice(1)
        .map((block) => [block.slice(0, block.indexOf('</AlarmName>')), block] as const),
    );
    const alarms = ofType('AWS::CloudWatch::Alarm');
    expect(alarms.length).toBeGreaterThan(0);
    for (const [id, resource] of alarms) {
      const block = blocks.get(physical[id] as string) ?? '';
      expect(block, id).not.toBe('');
      expectAlarm(block, resource.Properties ?? {});
    }
  });

  it('runs the deployed refresh bundle with the deployed environment: both providers are refreshed', async () => {
    // The operator fills the credentials secrets.
    await putCredentials(moto.clientConfig, `${PREFIX}/cc/credentials`, {
      clientId: 'rehearsal-cc',
      clientSecret: SECRET_CC,
    });
    await putCredentials(moto.clientConfig, `${PREFIX}/rt/credentials`, {
      clientId: 'rehearsal-rt',
      clientSecret: SECRET_RT,
      refreshToken: await oauth.seedRefreshToken({ clientId: 'rehearsal-rt' }),
    });
    const context = () => ({ awsRequestId: randomUUID(), getRemainingTimeInMillis: () => 60_000 });
    const results = await timed('verify', () =>
      runDeployed('TABLE_NAME', async (handler) => [
        await handler({ provider: 'cc' }, context()),
        await handler({ provider: 'rt' }, context()),
      ]),
    );

    expect(results).toHaveLength(2);
    expect(oauth.tokenRequests.client_credentials).toBe(1);
    expect(oauth.tokenRequests.refresh_token).toBe(1);
    const secrets = new SecretsManagerClient(moto.clientConfig);
    try {
      for (const provider of ['cc', 'rt']) {
        // A consumer's plain GetSecretValue (no VersionStage) gets the current token.
        const token = await secrets.send(
          new GetSecretValueCommand({ SecretId: `${PREFIX}/${provider}/token` }),
        );
        const value = JSON.parse(token.SecretString ?? '{}') as { provider?: string; accessToken?: string };
        expect(value.provider).toBe(provider);
        expect(oauth.issuedTokens.map((t) => t.value)).toContain(value.accessToken);
      }
    } finally {
      secrets.destroy();
    }
  });

  it('serves the refreshed tokens through the deployed read bundle (a direct Invoke)', async () => {
    const served = await runDeployed('REFRESH_FUNCTION_NAME', async (handler) => [
      await handler({ provider: 'cc' }, {}),
      await handler({ provider: 'rt' }, {}),
    ]);
    const issued = oauth.issuedTokens.map((t) => t.value);
    for (const [index, provider] of ['cc', 'rt'].entries()) {
      const token = served[index] as { provider?: string; accessToken?: string };
      expect(token.provider).toBe(provider);
      expect(issued).toContain(token.accessToken);
    }
  });

  it('redeploys unchanged with no changes', async () => {
    const { stdout, stderr } = await timed('redeploy', deploy);
    expect(`${stdout}${stderr}`).toContain('(no changes)');
  });

  it('updates by adding a provider, replacing no retained resource', async () => {
    providers.push({
      name: 'cc2',
      grant: 'client_credentials',
      tokenUrl: oauth.tokenUrl,
      refreshBefore: '5m',
    });
    await writeFile(config, JSON.stringify({ secretPrefix: PREFIX, providers }));
    const diff = await timed('diff', () =>
      cdk(['diff', '-o', outdir, '-c', `config=${config}`, 'TokenRefresher'], ROOT),
    );
    const shown = `${diff.stdout}${diff.stderr}`;
    expect(shown).toContain('cc2');
    const replaced = shown.split('\n').filter((line) => /replace/i.test(line));
    const retained = Object.keys(template.Resources).filter(
      (id) => (template.Resources[id] as { DeletionPolicy?: string }).DeletionPolicy === 'Retain',
    );
    for (const id of retained) expect(replaced.filter((line) => line.includes(id))).toEqual([]);

    await timed('update', deploy);

    const secrets = new SecretsManagerClient(moto.clientConfig);
    const scheduler = new SchedulerClient(moto.clientConfig);
    try {
      for (const name of ['token', 'credentials']) {
        const secret = await secrets.send(new DescribeSecretCommand({ SecretId: `${PREFIX}/cc2/${name}` }));
        expect(secret.Name).toBe(`${PREFIX}/cc2/${name}`);
      }
      const updated = JSON.parse(
        await readFile(join(outdir, 'TokenRefresher.template.json'), 'utf8'),
      ) as Template;
      const schedules = Object.values(updated.Resources).filter((r) => r.Type === 'AWS::Scheduler::Schedule');
      expect(schedules).toHaveLength(3);
      const group = schedules[0]?.Properties?.GroupName as string;
      const listed = await scheduler.send(new ListSchedulesCommand({ GroupName: group }));
      const names = (listed.Schedules ?? []).map((s) => s.Name);
      const cfn = new CloudFormationClient(moto.clientConfig);
      const resources = await cfn.send(new ListStackResourcesCommand({ StackName: 'TokenRefresher' }));
      cfn.destroy();
      const deployed = (resources.StackResourceSummaries ?? []).filter(
        (r) => r.ResourceType === 'AWS::Scheduler::Schedule',
      );
      // Besides these, the group holds the one-off schedules the refresh function made when it ran.
      expect(deployed).toHaveLength(3);
      for (const r of deployed) expect(names).toContain(r.PhysicalResourceId);
      // The first providers' token is untouched by the update.
      const token = await secrets.send(new GetSecretValueCommand({ SecretId: `${PREFIX}/cc/token` }));
      expect((JSON.parse(token.SecretString ?? '{}') as { provider?: string }).provider).toBe('cc');
    } finally {
      secrets.destroy();
      scheduler.destroy();
    }
  });

  it('destroys the stack and leaves the retained table and secrets, as the README says', async () => {
    await timed('destroy', () =>
      cdk(['destroy', '-o', outdir, '-c', `config=${config}`, '--force', 'TokenRefresher'], ROOT),
    );

    const secrets = new SecretsManagerClient(moto.clientConfig);
    const dynamodb = new DynamoDBClient(moto.clientConfig);
    const lambda = new LambdaClient(moto.clientConfig);
    try {
      for (const [id, resource] of Object.entries(template.Resources)) {
        const retained = (resource as { DeletionPolicy?: string }).DeletionPolicy === 'Retain';
        if (resource.Type === 'AWS::SecretsManager::Secret') {
          const name = resource.Properties?.Name as string;
          expect(await exists(() => secrets.send(new DescribeSecretCommand({ SecretId: name })))).toBe(
            retained,
          );
          expect(retained).toBe(true);
        } else if (resource.Type === 'AWS::DynamoDB::Table') {
          expect(retained).toBe(true);
          const TableName = physical[id];
          expect(await exists(() => dynamodb.send(new DescribeTableCommand({ TableName })))).toBe(true);
        } else if (resource.Type === 'AWS::Lambda::Function') {
          const FunctionName = physical[id];
          expect(await exists(() => lambda.send(new GetFunctionConfigurationCommand({ FunctionName })))).toBe(
            false,
          );
        }
      }
    } finally {
      secrets.destroy();
      dynamodb.destroy();
      lambda.destroy();
    }
  });
});
