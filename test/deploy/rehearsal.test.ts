/**
 * The deploy rehearsal (issue 14): what a user does first, with no AWS account. A CDK app outside the
 * repository installs the `@token-refresher/cdk` tarball (scratch-app.ts); the CDK CLI, pointed at
 * moto (serialized_moto.py with moto_cfn.py: the CloudFormation resource types and fixes moto lacks),
 * bootstraps, deploys its stack of one `client_credentials` and one rotating `refresh_token`
 * provider, redeploys, diffs and deploys an update, and destroys it. After each deployment every
 * template resource is read back through the service APIs and compared with its synthesized
 * properties (verify.ts); the **deployed** refresh and read bundles (the package's prebuilt bundles,
 * from `cdk.out`) run with the deployed functions' environment.
 *
 * Not exercised: Lambda's runtime (moto runs no code without Docker; the bundles run in this
 * process), IAM enforcement, schedules firing, alarm delivery, real CloudFormation ordering.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import {
  CloudFormationClient,
  DescribeStacksCommand,
  ListStackResourcesCommand,
} from '@aws-sdk/client-cloudformation';
import { DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import { GetFunctionConfigurationCommand } from '@aws-sdk/client-lambda';
import { ListSchedulesCommand } from '@aws-sdk/client-scheduler';
import { DescribeSecretCommand, GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { SignatureV4 } from '@smithy/signature-v4';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CallerProofSigner } from '../../functions/client/caller-proof.js';
import { NodeSha256 } from '../../functions/client/sha256.js';
import { assumeLocalCallerRole } from '../../functions/local/local-caller.js';
import { LOCAL_CALLER_ROLE } from '../../functions/local/read-server.js';
import { packedTarballs, scratchEnv } from '../package/support.js';
import { type MotoServer, startMoto } from '../support/moto.js';
import { type OAuthServer, startOAuthServer } from '../support/oauth-server.js';
import { putCredentials } from '../support/resources.js';
import type { DeployedStack, Template, TemplateResource } from './intrinsics.js';
import { EmulatorClients, STATELESS_TYPES } from './readers.js';
import { createScratchCdkApp, type ScratchCdkApp, STACK_NAME } from './scratch-app.js';
import { type Verification, verifyDeployedStack } from './verify.js';

const run = promisify(execFile);
/** The repository's CDK CLI (aws-cdk), run in the scratch app's directory. */
const CDK = join(import.meta.dirname, '../../node_modules/.bin/cdk');
const ACCOUNT = '123456789012';
const REGION = 'us-east-1';
const PREFIX = 'rehearsal';
const SECRET_CC = 'rehearsal-cc-secret-41d7';
const SECRET_RT = 'rehearsal-rt-secret-93ac';
/** The consumer: the role moto's STS lets `npm start`'s local caller assume; each provider lists it. */
const CONSUMER_ROLE = LOCAL_CALLER_ROLE;

type Handler = (event: unknown, context: unknown) => Promise<unknown>;
type FunctionName = 'RefreshFunction' | 'ReadFunction';

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

const verified: Record<string, Verification> = {};

const variablesOf = (resource: TemplateResource): object =>
  (resource.Properties?.Environment as { Variables?: object } | undefined)?.Variables ?? {};

describe('deploy rehearsal on the emulator', () => {
  let moto: MotoServer;
  let oauth: OAuthServer;
  let clients: EmulatorClients;
  let app: ScratchCdkApp;
  let bootstrapDir: string;
  let cliEnv: NodeJS.ProcessEnv;
  let stack: DeployedStack;
  const providers: object[] = [];

  const cdk = (args: string[], cwd: string) =>
    run(CDK, [...args, '--no-notices'], { cwd, env: cliEnv, maxBuffer: 64 * 1024 * 1024, timeout: 240_000 });
  /** `app` is the app (synthesized now) or `cdk.out` (the assembly the last synth or diff wrote). */
  const deploy = (source: 'app' | 'cdk.out' = 'app') =>
    cdk(
      ['deploy', ...(source === 'app' ? [] : ['--app', source]), '--require-approval', 'never', STACK_NAME],
      app.dir,
    );
  const writeConfig = () => app.writeConfig({ secretPrefix: PREFIX, providers });
  const exists = (check: () => Promise<unknown>) =>
    check().then(
      () => true,
      () => false,
    );
  const ofType = (type: string) =>
    Object.entries(stack.template.Resources).filter(([, r]) => r.Type === type);

  /** The synthesized template and what CloudFormation (moto) reports of the deployed stack. */
  async function readDeployedStack(): Promise<DeployedStack> {
    const template = JSON.parse(
      await readFile(join(app.dir, 'cdk.out', `${STACK_NAME}.template.json`), 'utf8'),
    ) as Template;
    const cfn = new CloudFormationClient(moto.clientConfig);
    try {
      const [listed, described] = await Promise.all([
        cfn.send(new ListStackResourcesCommand({ StackName: STACK_NAME })),
        cfn.send(new DescribeStacksCommand({ StackName: STACK_NAME })),
      ]);
      const physical = Object.fromEntries(
        (listed.StackResourceSummaries ?? []).map((r) => [
          r.LogicalResourceId ?? '',
          r.PhysicalResourceId ?? '',
        ]),
      );
      const stackId = described.Stacks?.[0]?.StackId ?? '';
      return { account: ACCOUNT, region: REGION, stackName: STACK_NAME, stackId, template, physical };
    } finally {
      cfn.destroy();
    }
  }

  /** The construct's function `RefreshFunction` or `ReadFunction` (by its construct path): logical id, resource. */
  function deployedFunction(name: FunctionName): [string, TemplateResource] {
    const found = ofType('AWS::Lambda::Function').find(
      ([, r]) => r.Metadata?.['aws:cdk:path'] === `${STACK_NAME}/Refresher/${name}/Resource`,
    );
    if (found === undefined) throw new Error(`no function ${name} in the template`);
    return found;
  }

  /**
   * Runs `use` with the handler of the deployed function `name`:
   * its asset from cdk.out (the function's `aws:asset:path`), its configured handler, and its deployed
   * environment (plus the emulator's endpoint and credentials) in process.env.
   */
  async function runDeployed<T>(name: FunctionName, use: (handler: Handler) => Promise<T>): Promise<T> {
    const [id, resource] = deployedFunction(name);
    const config = await clients.lambda.send(
      new GetFunctionConfigurationCommand({ FunctionName: stack.physical[id] }),
    );
    const [file, exported] = (config.Handler ?? '').split('.');
    const bundle = join(app.dir, 'cdk.out', resource.Metadata?.['aws:asset:path'] as string, `${file}.mjs`);
    const saved = { ...process.env };
    // What the Lambda runtime sets, the function's environment, and the emulator's endpoint and keys.
    const runtime = {
      AWS_LAMBDA_FUNCTION_NAME: config.FunctionName ?? '',
      AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(config.MemorySize),
    };
    Object.assign(process.env, runtime, config.Environment?.Variables, moto.env);
    try {
      const module = (await import(pathToFileURL(bundle).href)) as Record<string, unknown>;
      return await use(module[exported as string] as Handler);
    } finally {
      for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
      Object.assign(process.env, saved);
    }
  }

  /** A caller proof of {@link CONSUMER_ROLE} for the deployed read function, signed as the client does. */
  async function consumerProof(): Promise<string> {
    const stsEndpoint = new URL('/', moto.endpoint);
    const credentials = await assumeLocalCallerRole(stsEndpoint.href, REGION);
    const signer = new SignatureV4({ service: 'sts', region: REGION, credentials, sha256: NodeSha256 });
    const proofs = new CallerProofSigner({
      stsEndpoint,
      serverId: stack.physical[deployedFunction('ReadFunction')[0]] ?? '',
      sign: (request, options) => signer.sign(request, options),
      now: () => Date.now(),
    });
    return (await proofs.proof()).proof;
  }

  async function verify(phase: string): Promise<Verification> {
    const result = await timed(phase, () => verifyDeployedStack(stack, clients));
    verified[phase] = result;
    return result;
  }

  beforeAll(async () => {
    // The app is installed while the emulator starts and the environment is bootstrapped.
    const installed = timed('install', async () => {
      // The tarball alone first (createScratchCdkApp gets the same one), to report its share.
      await timed('pack', packedTarballs);
      return createScratchCdkApp();
    });
    // Awaited below; until then a failure must not surface as an unhandled rejection.
    installed.catch(() => undefined);
    process.env.TOKEN_REFRESHER_MOTO_CFN = '1';
    try {
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
    } finally {
      delete process.env.TOKEN_REFRESHER_MOTO_CFN;
    }
    clients = new EmulatorClients(moto.endpoint, moto.clientConfig);
    cliEnv = scratchEnv({
      ...moto.env,
      AWS_ENDPOINT_URL: moto.endpoint,
      AWS_ACCESS_KEY_ID: 'testing',
      AWS_SECRET_ACCESS_KEY: 'testing',
      AWS_REGION: REGION,
      AWS_DEFAULT_REGION: REGION,
      // moto misreads the template URL the CLI builds for a custom endpoint.
      AWS_ENDPOINT_URL_S3_FOR_CLOUDFORMATION: `https://s3.${REGION}.amazonaws.com`,
      CDK_DISABLE_VERSION_CHECK: '1',
      CDK_DISABLE_CLI_TELEMETRY: 'true',
    });
    // Outside the app directory: inside it, bootstrap would synthesize the app.
    bootstrapDir = await mkdtemp(join(tmpdir(), 'deploy-rehearsal-bootstrap-'));
    await timed('bootstrap', () => cdk(['bootstrap', `aws://${ACCOUNT}/${REGION}`], bootstrapDir));
    app = await installed;
    const consumers = [CONSUMER_ROLE];
    providers.push(
      { name: 'cc', grant: 'client_credentials', tokenUrl: oauth.tokenUrl, refreshBefore: '5m', consumers },
      { name: 'rt', grant: 'refresh_token', tokenUrl: oauth.tokenUrl, refreshBefore: '10m', consumers },
    );
    await writeConfig();
    await timed('deploy', () => deploy());
    stack = await readDeployedStack();
  });

  afterAll(async () => {
    console.log(`deploy rehearsal phases (ms): ${JSON.stringify(phases)}`);
    for (const [phase, result] of Object.entries(verified)) {
      console.log(
        `deploy rehearsal ${phase}: ${result.resources} resources read back (+${result.stateless} stateless), ` +
          `${result.properties} properties and ${result.values} values compared; ` +
          `unobservable: ${JSON.stringify(result.unobservable)}; compared: ${JSON.stringify(result.compared)}`,
      );
    }
    clients?.destroy();
    await Promise.all([moto?.stop(), oauth?.stop()]);
    if (bootstrapDir) await rm(bootstrapDir, { recursive: true, force: true });
  });

  it('creates every template resource', () => {
    const expected = Object.keys(stack.template.Resources).filter(
      (id) => !((stack.template.Resources[id]?.Type ?? '') in STATELESS_TYPES),
    );
    expect(expected.filter((id) => !stack.physical[id])).toEqual([]);
  });

  it('deploys every resource with its synthesized properties, as the service APIs read them back', async () => {
    const result = await verify('verify');

    const stateful = Object.values(stack.template.Resources).filter((r) => !(r.Type in STATELESS_TYPES));
    expect(result.resources).toBe(stateful.length);
    expect(ofType('AWS::SQS::QueuePolicy')).toHaveLength(1);
    expect(ofType('AWS::SNS::TopicPolicy')).toHaveLength(1);
  });

  it("deploys the package's prebuilt bundles, with exactly the template's environment", async () => {
    for (const [name, bundle] of [
      ['RefreshFunction', 'refresh'],
      ['ReadFunction', 'read'],
    ] as const) {
      const [id, resource] = deployedFunction(name);
      const asset = join(app.dir, 'cdk.out', resource.Metadata?.['aws:asset:path'] as string);
      const deployedBundle = await readFile(join(asset, 'index.mjs'));
      expect(deployedBundle.equals(await readFile(join(app.packageDir, 'assets', bundle, 'index.mjs')))).toBe(
        true,
      );
      const config = await clients.lambda.send(
        new GetFunctionConfigurationCommand({ FunctionName: stack.physical[id] }),
      );
      expect(Object.keys(config.Environment?.Variables ?? {}).sort()).toEqual(
        Object.keys(variablesOf(resource)).sort(),
      );
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
    const results = await timed('run', () =>
      runDeployed('RefreshFunction', async (handler) => [
        await handler({ provider: 'cc' }, context()),
        await handler({ provider: 'rt' }, context()),
      ]),
    );

    expect(results).toHaveLength(2);
    expect(oauth.tokenRequests.client_credentials).toBe(1);
    expect(oauth.tokenRequests.refresh_token).toBe(1);
    for (const provider of ['cc', 'rt']) {
      // A consumer's plain GetSecretValue (no VersionStage) gets the current token.
      const token = await clients.secrets.send(
        new GetSecretValueCommand({ SecretId: `${PREFIX}/${provider}/token` }),
      );
      const value = JSON.parse(token.SecretString ?? '{}') as { provider?: string; accessToken?: string };
      expect(value.provider).toBe(provider);
      expect(oauth.issuedTokens.map((t) => t.value)).toContain(value.accessToken);
    }
  });

  it("serves the refreshed tokens through the deployed read bundle to a consumer's proof (a direct Invoke), and to no one without", async () => {
    const callerProof = await consumerProof();
    const [served, unproven] = await runDeployed('ReadFunction', async (handler) => [
      [
        await handler({ provider: 'cc', callerProof }, {}),
        await handler({ provider: 'rt', callerProof }, {}),
      ],
      await handler({ provider: 'cc' }, {}),
    ]);
    const issued = oauth.issuedTokens.map((t) => t.value);
    for (const [index, provider] of ['cc', 'rt'].entries()) {
      const token = (served as unknown[])[index] as { provider?: string; accessToken?: string };
      expect(token.provider).toBe(provider);
      expect(issued).toContain(token.accessToken);
    }
    expect(JSON.stringify(unproven)).toContain('missing_caller_proof');
  });

  it('redeploys unchanged with no changes', async () => {
    const { stdout, stderr } = await timed('redeploy', () => deploy());
    expect(`${stdout}${stderr}`).toContain('(no changes)');
  });

  it('updates by adding a provider, replacing no retained resource; every resource is as the new template says', async () => {
    const before = stack;
    providers.push({
      name: 'cc2',
      grant: 'client_credentials',
      tokenUrl: oauth.tokenUrl,
      refreshBefore: '5m',
      consumers: [CONSUMER_ROLE],
    });
    await writeConfig();
    // Template mode: the CLI judges replacements by each property's update behaviour in the resource
    // specification (moto's change sets carry no replacement details).
    const diff = await timed('diff', () => cdk(['diff', '--no-change-set', STACK_NAME], app.dir));
    const shown = `${diff.stdout}${diff.stderr}`;
    expect(shown).toContain('cc2');
    const replaced = shown.split('\n').filter((line) => /replace/i.test(line));
    const retained = Object.keys(before.template.Resources).filter(
      (id) => before.template.Resources[id]?.DeletionPolicy === 'Retain',
    );
    for (const id of retained) expect(replaced.filter((line) => line.includes(id))).toEqual([]);

    // The assembly the diff synthesized is the one deployed.
    await timed('update', () => deploy('cdk.out'));
    stack = await readDeployedStack();

    // The new provider's secrets and schedule are verified with the rest, by their template properties.
    const result = await verify('verify-update');
    expect(result.resources).toBeGreaterThan(verified.verify?.resources ?? 0);
    for (const name of ['token', 'credentials']) {
      const secret = await clients.secrets.send(
        new DescribeSecretCommand({ SecretId: `${PREFIX}/cc2/${name}` }),
      );
      expect(secret.Name).toBe(`${PREFIX}/cc2/${name}`);
    }
    const schedules = ofType('AWS::Scheduler::Schedule');
    expect(schedules).toHaveLength(3);
    const group = schedules[0]?.[1].Properties?.GroupName as string;
    const listed = await clients.scheduler.send(new ListSchedulesCommand({ GroupName: group }));
    const names = (listed.Schedules ?? []).map((s) => s.Name);
    // Besides these, the group holds the one-off schedules the refresh function made when it ran.
    for (const [id] of schedules) expect(names).toContain(stack.physical[id]);
    // The retained resources kept their physical ids, and the first provider's token is untouched.
    for (const id of retained) expect(stack.physical[id]).toBe(before.physical[id]);
    const token = await clients.secrets.send(new GetSecretValueCommand({ SecretId: `${PREFIX}/cc/token` }));
    expect((JSON.parse(token.SecretString ?? '{}') as { provider?: string }).provider).toBe('cc');
  });

  it('destroys the stack and leaves the retained table and secrets, as the README says', async () => {
    await timed('destroy', () => cdk(['destroy', '--app', 'cdk.out', '--force', STACK_NAME], app.dir));

    for (const [id, resource] of Object.entries(stack.template.Resources)) {
      const retained = resource.DeletionPolicy === 'Retain';
      if (resource.Type === 'AWS::SecretsManager::Secret') {
        const name = resource.Properties?.Name as string;
        expect(retained).toBe(true);
        expect(await exists(() => clients.secrets.send(new DescribeSecretCommand({ SecretId: name })))).toBe(
          true,
        );
      } else if (resource.Type === 'AWS::DynamoDB::Table') {
        expect(retained).toBe(true);
        const TableName = stack.physical[id];
        expect(await exists(() => clients.dynamodb.send(new DescribeTableCommand({ TableName })))).toBe(true);
      } else if (resource.Type === 'AWS::Lambda::Function') {
        const FunctionName = stack.physical[id];
        expect(
          await exists(() => clients.lambda.send(new GetFunctionConfigurationCommand({ FunctionName }))),
        ).toBe(false);
      }
    }
  });
});
