/**
 * Drill 4, emulator faults (issue #6). An HTTP proxy in front of moto answers one call of the refresh
 * protocol with a throttling error or a 5xx (see `aws-fault-proxy.ts`); the refresh handler's SDK
 * clients point at the proxy. Each protocol step that calls AWS is hit, for both grants, in three
 * modes:
 *
 * - `surfaced`: `maxAttempts: 1`, the fault replaces the call: the handler's own error path is seen.
 * - `absorbed`: the default retries (3 attempts), the fault replaces the call once: it must be absorbed
 *   within the invocation (refreshed, one provider call).
 * - `applied`: the default retries, the service applies the call and the answer is a 5xx anyway (a
 *   500 may hide an applied write): the retry must be idempotent.
 * - `persistent` (the rotated refresh token's writes only): `maxAttempts: 1`, the call fails every
 *   time for the whole invocation, so the engine's own repeats of that write run out with the lease
 *   (its pauses move the drill clock instead of sleeping).
 *
 * Per scenario a token exists and is due (5 min left). The faulty container is a new one (its first
 * run reads the credentials); the token is read only when the state item cannot be trusted (issue 17),
 * so that step's scenarios make the item one of an older release first. Asserted: the fault fired once; the handler's
 * result and the state item carry the expected error code; no lost token (a valid token is stored at
 * every point); at most one provider call per invocation and none once a newer token is stored; the
 * scheduler (a tick every 30 s) gets a newer token; the lease is free at the end; no refresh-token
 * reuse. One combination loses a rotating refresh token (see {@link KNOWN_LOSSES}); it is asserted as
 * detected.
 */
import { randomUUID } from 'node:crypto';
import { UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDynamoDbClient } from '../../functions/aws/state-table.js';
import { readReadEnvironment } from '../../functions/core/env.js';
import type { RefreshResult, TokenRecord } from '../../functions/core/types.js';
import { composeReadHandler } from '../../functions/read/app.js';
import {
  inProcessRefreshTrigger,
  type RefreshHandler,
  refreshHandlerFromEnvironment,
} from '../../functions/refresh/app.js';
import { type AwsFaultKind, type AwsFaultProxy, startAwsFaultProxy } from './aws-fault-proxy.js';
import {
  CLIENTS,
  CREDENTIALS,
  DrillClock,
  type DrillParts,
  inspect,
  iterations,
  LONG_MODE,
  MINUTE,
  MODE,
  refreshEnvironment,
  reportDrill,
  resetWorld,
  reuseDetections,
  startDrillParts,
  TABLE,
} from './support.js';

const RUNS = iterations(1, 3);
const TICK_MS = 30_000;
const LEASE_MS = 30_000;

type Grant = 'cc' | 'rotating';
type Mode = 'surfaced' | 'absorbed' | 'applied' | 'persistent';

const endsWith = (suffix: string) => (body: Readonly<Record<string, unknown>>) =>
  typeof body.SecretId === 'string' && body.SecretId.endsWith(suffix);
const condition = (clause: string) => (body: Readonly<Record<string, unknown>>) =>
  typeof body.ConditionExpression === 'string' && body.ConditionExpression.includes(clause);

interface StepSpec {
  readonly step: string;
  readonly target: string;
  readonly when?: (body: Readonly<Record<string, unknown>>) => boolean;
  readonly grants: readonly Grant[];
  /** `surfaced` mode: the code of the failed invocation (`refreshed`: it still succeeds). */
  readonly surfacedCode: 'dynamodb_unavailable' | 'secrets_manager_unavailable' | 'refreshed';
  /** `surfaced` mode: whether the provider was called before the fault. */
  readonly surfacedCalled: boolean;
  /** A write of the rotated refresh token: the engine repeats it, and `persistent` mode applies. */
  readonly refreshTokenWrite?: true;
  /**
   * The step happens only when the state item cannot be trusted (issue 17, `stored-state.ts`): the
   * setup's item is made one of an older release (no `recordedFence`), so the run reads the token.
   */
  readonly untrustedState?: true;
}

/** Every AWS call of the protocol, in order (docs/architecture.md, "The refresh protocol"). */
const STEPS: readonly StepSpec[] = [
  {
    step: 'state read (GetItem)',
    target: 'DynamoDB_20120810.GetItem',
    grants: ['cc', 'rotating'],
    surfacedCode: 'dynamodb_unavailable',
    surfacedCalled: false,
  },
  {
    step: 'lease acquire (UpdateItem)',
    target: 'DynamoDB_20120810.UpdateItem',
    when: condition('attribute_not_exists(leaseOwner)'),
    grants: ['cc', 'rotating'],
    surfacedCode: 'dynamodb_unavailable',
    surfacedCalled: false,
  },
  {
    // Only when the state item cannot be trusted; a trusted one makes the run skip this read.
    step: 'token double-check (GetSecretValue)',
    target: 'secretsmanager.GetSecretValue',
    when: endsWith('/token'),
    untrustedState: true,
    grants: ['cc', 'rotating'],
    surfacedCode: 'secrets_manager_unavailable',
    surfacedCalled: false,
  },
  {
    step: 'credentials read (GetSecretValue)',
    target: 'secretsmanager.GetSecretValue',
    when: endsWith('/credentials'),
    grants: ['cc', 'rotating'],
    surfacedCode: 'secrets_manager_unavailable',
    surfacedCalled: false,
  },
  // A single failure of the refresh token's write is repeated by the engine within the invocation.
  {
    step: 'refresh-token put (PutSecretValue)',
    target: 'secretsmanager.PutSecretValue',
    when: endsWith('/credentials'),
    grants: ['rotating'],
    surfacedCode: 'refreshed',
    surfacedCalled: true,
    refreshTokenWrite: true,
  },
  {
    step: 'refresh-token stage move (UpdateSecretVersionStage)',
    target: 'secretsmanager.UpdateSecretVersionStage',
    when: endsWith('/credentials'),
    grants: ['rotating'],
    surfacedCode: 'refreshed',
    surfacedCalled: true,
    refreshTokenWrite: true,
  },
  {
    step: 'token put (PutSecretValue)',
    target: 'secretsmanager.PutSecretValue',
    when: endsWith('/token'),
    grants: ['cc', 'rotating'],
    surfacedCode: 'secrets_manager_unavailable',
    surfacedCalled: true,
  },
  {
    step: 'token stage move (UpdateSecretVersionStage)',
    target: 'secretsmanager.UpdateSecretVersionStage',
    when: endsWith('/token'),
    grants: ['cc', 'rotating'],
    surfacedCode: 'secrets_manager_unavailable',
    surfacedCalled: true,
  },
  {
    // The engine logs a failed release and returns the refresh; the lease expires on its own.
    step: 'record and release (UpdateItem)',
    target: 'DynamoDB_20120810.UpdateItem',
    when: condition('leaseOwner = :owner'),
    grants: ['cc', 'rotating'],
    surfacedCode: 'refreshed',
    surfacedCalled: true,
  },
];

/**
 * A rotated refresh token whose `PutSecretValue` fails for the whole lease (every repeat of the
 * engine's) exists nowhere but in the dead invocation: the engine records a transient failure and the
 * next attempt replays the spent one, which revokes the grant. Asserted as detected (permanent
 * `invalid_grant`, the last token kept). When the put was applied and only the stage move keeps
 * failing, the next holder finishes the write from `AWSPENDING` and nothing is lost.
 */
const KNOWN_LOSSES: ReadonlySet<string> = new Set(['rotating/persistent/refresh-token put (PutSecretValue)']);

const KINDS: Record<Mode, readonly AwsFaultKind[]> = {
  surfaced: ['throttling', 'http500', 'http503'],
  absorbed: ['throttling', 'http500', 'http503'],
  // A throttled call is not applied; only a 5xx may hide an applied call.
  applied: ['http500', 'http503'],
  persistent: ['http503', 'throttling'],
};
/** `persistent` mode: more failures than the engine can make in one lease. */
const PERSISTENT_TIMES = 1_000;

/**
 * CI: the `surfaced` mode for both grants, the retry modes for the rotating grant only (its steps are a
 * superset of client_credentials'), one fault kind per step rotating through the kinds; `persistent`
 * on the rotating grant's two refresh-token writes. Long mode: every grant, mode and kind, {@link RUNS}
 * times.
 */
function grantsFor(mode: Mode): readonly Grant[] {
  if (mode === 'persistent') return ['rotating'];
  return LONG_MODE || mode === 'surfaced' ? ['cc', 'rotating'] : ['rotating'];
}

function kindsFor(mode: Mode, stepIndex: number): readonly AwsFaultKind[] {
  const kinds = KINDS[mode];
  return LONG_MODE ? kinds : [kinds[stepIndex % kinds.length] as AwsFaultKind];
}

interface ScenarioRecord {
  readonly grant: Grant;
  readonly mode: Mode;
  readonly step: string;
  readonly kind: AwsFaultKind;
  readonly faultyResult: string;
  readonly providerCalls: number;
  readonly knownLoss: boolean;
  readonly faultsFired: number;
  readonly problems: readonly string[];
}

describe(`Drill: Secrets Manager and DynamoDB faults at every protocol step, through a proxy in front of moto (${MODE} mode)`, () => {
  let parts: DrillParts;
  let proxy: AwsFaultProxy;
  const clock = new DrillClock();
  const records: ScenarioRecord[] = [];
  const providers = () => [
    { name: 'cc', grant: 'client_credentials', tokenUrl: parts.oauth.tokenUrl, requestTimeout: 5 },
    { name: 'rotating', grant: 'refresh_token', tokenUrl: parts.oauth.tokenUrl, requestTimeout: 5 },
  ];

  beforeAll(async () => {
    parts = await startDrillParts({ clients: [CLIENTS.cc, CLIENTS.rotating] });
    proxy = await startAwsFaultProxy(parts.moto.endpoint);
  });

  afterAll(async () => {
    await proxy?.stop();
    await parts?.stop();
  });

  const handler = (endpoint: string, maxAttempts?: number): RefreshHandler =>
    refreshHandlerFromEnvironment(refreshEnvironment(providers()), {
      clientConfig: {
        ...parts.moto.clientConfig,
        endpoint,
        ...(maxAttempts === undefined ? {} : { maxAttempts }),
      },
      clock,
      // The engine's pauses between repeats of a write move the drill clock (and so eat the lease).
      sleep: async (ms) => clock.advance(ms),
    });
  const tick = async (refresh: RefreshHandler, provider: Grant) =>
    (await refresh(
      { provider },
      { awsRequestId: randomUUID(), getRemainingTimeInMillis: () => LEASE_MS },
    )) as RefreshResult;
  const injectedTotal = () => Object.values(proxy.injected).reduce((sum, count) => sum + count, 0);

  /** One scenario as its phases share it. */
  interface FaultRun {
    readonly grant: Grant;
    readonly spec: StepSpec;
    readonly mode: Mode;
    readonly kind: AwsFaultKind;
    readonly view: ReturnType<typeof inspect>;
    /** The container that reaches AWS through the fault proxy (healthy again after the fault). */
    readonly faulty: RefreshHandler;
    /** Records a problem unless the condition holds. */
    readonly check: (ok: boolean, problem: string) => void;
  }

  async function scenario(
    grant: Grant,
    spec: StepSpec,
    mode: Mode,
    kind: AwsFaultKind,
  ): Promise<ScenarioRecord> {
    const problems: string[] = [];
    const check = (ok: boolean, problem: string) => {
      if (!ok) problems.push(problem);
    };
    const knownLoss = KNOWN_LOSSES.has(`${grant}/${mode}/${spec.step}`);
    await resetWorld(parts, { [grant]: CREDENTIALS[grant] });
    parts.secrets.addIssued(parts.oauth);
    parts.oauth.resetCounters();
    const view = inspect(parts.moto.clientConfig);
    const healthy = handler(parts.moto.endpoint);
    const faulty = handler(proxy.endpoint, mode === 'surfaced' || mode === 'persistent' ? 1 : undefined);
    const run: FaultRun = { grant, spec, mode, kind, view, faulty, check };

    // A token that is due: 1 h lifetime, 4 min 59 s left.
    const setup = await tick(healthy, grant);
    check(setup.status === 'refreshed', `the setup refresh ended ${setup.status}`);
    const before = await view.token(grant);
    if (before === undefined) throw new Error('no token after the setup refresh');
    if (spec.untrustedState) await forgetRecordedFence(parts.moto.clientConfig, grant);
    clock.advance(Date.parse(before.expiresAt) - 5 * MINUTE + 1_000 - clock.now());

    const callsBefore = parts.oauth.tokenRequests.total;
    const faulted = await faultyInvocation(run, callsBefore);
    const recovery = await recoverByTicks(run, before, faulted.result);
    // Provider calls from the faulty invocation to the recovery (not the forced verification).
    const providerCalls = knownLoss
      ? await checkLossContained(run, recovery.last, before, callsBefore)
      : await checkRecovered(run, { ...recovery, before }, callsBefore);
    const state = await view.state(grant);
    check(
      state?.leaseOwner === undefined || (state.leaseExpiresAt ?? 0) <= clock.now(),
      'the lease is still held at the end',
    );
    parts.secrets.addIssued(parts.oauth);
    const record: ScenarioRecord = {
      grant,
      mode,
      step: spec.step,
      kind,
      faultyResult: faulted.outcome,
      providerCalls,
      knownLoss,
      faultsFired: faulted.fired,
      problems,
    };
    records.push(record);
    return record;
  }

  /** The faulty invocation: the fault injected at the step, checked against the expected outcome. */
  async function faultyInvocation(
    run: FaultRun,
    callsBefore: number,
  ): Promise<{ result: RefreshResult; outcome: string; fired: number }> {
    const { grant, spec, mode, kind, view, faulty, check } = run;
    const injectedBefore = injectedTotal();
    proxy.inject({
      target: spec.target,
      ...(spec.when ? { when: spec.when } : {}),
      kind,
      times: mode === 'persistent' ? PERSISTENT_TIMES : 1,
      applied: mode === 'applied',
    });
    const result = await tick(faulty, grant);
    proxy.clear();
    const faultyCalls = parts.oauth.tokenRequests.total - callsBefore;
    const fired = injectedTotal() - injectedBefore;
    check(mode === 'persistent' ? fired > 1 : fired === 1, `the fault fired ${fired} times`);
    check(faultyCalls <= 1, `the faulty invocation made ${faultyCalls} provider calls`);

    const expected = expectedOutcome(spec, mode);
    const outcome = result.status === 'failed' ? result.code : result.status;
    check(outcome === expected.status, `the faulty invocation ended ${outcome}, expected ${expected.status}`);
    check(
      faultyCalls === (expected.called ? 1 : 0),
      `the faulty invocation made ${faultyCalls} provider calls`,
    );
    if (result.status === 'failed' && result.attempted) {
      const state = await view.state(grant);
      check(
        state?.lastErrorCode === result.code,
        `the state records ${state?.lastErrorCode}, not ${result.code}`,
      );
    }
    check((await validStored(run)) !== undefined, 'no valid token stored after the faulty invocation');
    return { result, outcome, fired };
  }

  /** The stored token, if it is still valid. */
  async function validStored(run: FaultRun): Promise<TokenRecord | undefined> {
    const token = await run.view.token(run.grant);
    return token !== undefined && Date.parse(token.expiresAt) > clock.now() ? token : undefined;
  }

  /** The scheduler onward, with the same (now healthy) container, until a newer token or a permanent failure. */
  async function recoverByTicks(
    run: FaultRun,
    before: TokenRecord,
    faultyResult: RefreshResult,
  ): Promise<{ last: RefreshResult; newer: TokenRecord | undefined; ticks: number }> {
    const { grant, view, faulty, check } = run;
    let ticks = 0;
    let last = faultyResult;
    let newer = await view.token(grant);
    while ((newer?.generation ?? 0) <= before.generation && ticks < 10) {
      if (last.status === 'failed' && last.permanent) break;
      clock.advance(TICK_MS);
      ticks += 1;
      const callsAtTick = parts.oauth.tokenRequests.total;
      last = await tick(faulty, grant);
      check(parts.oauth.tokenRequests.total - callsAtTick <= 1, 'an invocation called the provider twice');
      check((await validStored(run)) !== undefined, `no valid token stored at tick ${ticks}`);
      newer = await view.token(grant);
    }
    return { last, newer, ticks };
  }

  /** A known loss: the replay of the spent refresh token is detected, the last token kept. @returns provider calls. */
  async function checkLossContained(
    run: FaultRun,
    last: RefreshResult,
    before: TokenRecord,
    callsBefore: number,
  ): Promise<number> {
    const { grant, view, check } = run;
    const providerCalls = parts.oauth.tokenRequests.total - callsBefore;
    check(
      last.status === 'failed' && last.code === 'invalid_grant' && last.permanent,
      `expected the replay of the spent refresh token to end in a permanent invalid_grant, got ${JSON.stringify(last)}`,
    );
    check(reuseDetections(parts.oauth) === 1, `${reuseDetections(parts.oauth)} reuse detections`);
    check((await view.token(grant))?.accessToken === before.accessToken, 'the last valid token was not kept');
    return providerCalls;
  }

  /**
   * Any other scenario: a newer token, then past any lease nothing is due and nobody calls the
   * provider; a rotating grant's stored refresh token still works. @returns provider calls to the recovery.
   */
  async function checkRecovered(
    run: FaultRun,
    recovery: { last: RefreshResult; newer: TokenRecord | undefined; ticks: number; before: TokenRecord },
    callsBefore: number,
  ): Promise<number> {
    const { grant, faulty, check } = run;
    const { last, newer, ticks, before } = recovery;
    check(
      (newer?.generation ?? 0) > before.generation,
      `no newer token after ${ticks} ticks (${JSON.stringify(last)})`,
    );
    // Past any lease: nothing is due, nobody calls the provider, the lease ends free.
    clock.advance(LEASE_MS + 1_000);
    const callsAtEnd = parts.oauth.tokenRequests.total;
    const settled = await tick(faulty, grant);
    check(settled.status === 'fresh', `a tick after the recovery ended ${settled.status}`);
    check(parts.oauth.tokenRequests.total === callsAtEnd, 'a call after a newer token was stored');
    check(reuseDetections(parts.oauth) === 0, 'a refresh token was replayed');
    const providerCalls = parts.oauth.tokenRequests.total - callsBefore;
    if (grant === 'rotating') {
      const forced = (await faulty(
        { provider: grant, force: true },
        { awsRequestId: randomUUID(), getRemainingTimeInMillis: () => LEASE_MS },
      )) as RefreshResult;
      check(
        forced.status === 'refreshed',
        `the stored refresh token was refused (${JSON.stringify(forced)})`,
      );
    }
    return providerCalls;
  }

  describe.each(['surfaced', 'absorbed', 'applied', 'persistent'] as const)('mode %s', (mode) => {
    describe.each(grantsFor(mode))('provider %s', (grant) => {
      const cases = STEPS.flatMap((spec, index) =>
        spec.grants.includes(grant) && (mode !== 'persistent' || spec.refreshTokenWrite)
          ? kindsFor(mode, index).map(
              (kind) =>
                [
                  spec.step,
                  kind,
                  KNOWN_LOSSES.has(`${grant}/${mode}/${spec.step}`)
                    ? 'the rotated refresh token is lost: detected as a permanent invalid_grant, last token kept'
                    : `${expectedOutcome(spec, mode).status}; no lost token, no duplicate call, recovery, lease free`,
                  spec,
                ] as const,
            )
          : [],
      );
      it.each(cases)('%s fails with %s → %s', async (_step, kind, _outcome, spec) => {
        // Act
        const runs: ScenarioRecord[] = [];
        for (let run = 0; run < RUNS; run += 1) runs.push(await scenario(grant, spec, mode, kind));

        // Assess
        expect(runs.flatMap((run) => run.problems)).toEqual([]);
      });
    });
  });

  it('a consumer with a cached token keeps it while GetSecretValue is throttled', async () => {
    // Prepare: a read container that has read the token once.
    await resetWorld(parts, { cc: CREDENTIALS.cc });
    const refresh = handler(parts.moto.endpoint);
    const read = composeReadHandler(
      readReadEnvironment({
        PROVIDERS_CONFIG: refreshEnvironment(providers()).PROVIDERS_CONFIG,
        REFRESH_FUNCTION_NAME: 'in-process',
      }),
      {
        clientConfig: { ...parts.moto.clientConfig, endpoint: proxy.endpoint, maxAttempts: 1 },
        clock,
        trigger: inProcessRefreshTrigger(refresh, LEASE_MS),
      },
    );
    await tick(refresh, 'cc');
    const first = (await read({ provider: 'cc' })) as { accessToken: string; expiresAt: string };
    // Past the cache's margin (30 s before expiry): the next read goes to Secrets Manager.
    clock.advance(Date.parse(first.expiresAt) - 20_000 - clock.now());
    proxy.inject({ target: 'secretsmanager.GetSecretValue', kind: 'throttling', times: 1 });

    // Act
    const during = (await read({ provider: 'cc' })) as { accessToken?: string; expiresIn?: number };
    proxy.clear();

    // Assess
    expect(during.accessToken).toBe(first.accessToken);
    expect(during.expiresIn).toBeGreaterThan(0);
    expect(proxy.injected['secretsmanager.GetSecretValue']).toBeGreaterThan(0);
    parts.secrets.addIssued(parts.oauth);
  });

  it('reports the figures, and never logged a token or secret (runs last)', () => {
    // Prepare
    parts.secrets.addIssued(parts.oauth);

    // Act
    const { scanned, leaked } = parts.secrets.scan(parts.output.text());

    // Assess
    for (const mode of ['surfaced', 'absorbed', 'applied', 'persistent'] as const) {
      for (const grant of ['cc', 'rotating'] as const) {
        const cell = records.filter((record) => record.mode === mode && record.grant === grant);
        if (cell.length === 0) continue;
        reportDrill(`emulator-fault mode=${mode} provider=${grant}`, {
          scenarios: cell.length,
          faultsInjected: cell.reduce((sum, record) => sum + record.faultsFired, 0),
          outcomes: [
            ...new Set(cell.map((record) => `${shortStep(record.step)}:${record.faultyResult}`)),
          ].join(','),
          providerCalls: cell.reduce((sum, record) => sum + record.providerCalls, 0),
          grantLost: cell.filter((record) => record.knownLoss).length,
          failures: cell.filter((record) => record.problems.length > 0).length,
        });
      }
    }
    reportDrill('emulator-fault total', {
      scenarios: records.length,
      faultsInjected: Object.values(proxy.injected).reduce((sum, count) => sum + count, 0),
      failures: records.filter((record) => record.problems.length > 0).length,
      grantLostRuns: records.filter((record) => record.knownLoss).length,
    });
    reportDrill('emulator-fault secrets-in-logs', { valuesScanned: scanned, hits: leaked.length });
    expect(records.filter((record) => record.problems.length > 0)).toEqual([]);
    expect(leaked).toEqual([]);
  });
});

/** What the faulty invocation ends with, and whether it called the provider. */
function expectedOutcome(spec: StepSpec, mode: Mode): { status: string; called: boolean } {
  switch (mode) {
    case 'surfaced':
      return { status: spec.surfacedCode, called: spec.surfacedCalled };
    case 'absorbed':
      return { status: 'refreshed', called: true };
    case 'persistent':
      return { status: 'secrets_manager_unavailable', called: true };
    case 'applied':
      // An applied acquire's retry fails its condition against this invocation's own lease, which the
      // failed check returns (ALL_OLD): the lease is recognised and the refresh goes on.
      return { status: 'refreshed', called: true };
  }
}

function shortStep(step: string): string {
  return step.replace(/ \(.*\)$/, '').replace(/ /g, '-');
}

/** Make the provider's state item one of a release before issue 17 (no `recordedFence`): not trusted. */
async function forgetRecordedFence(
  clientConfig: DrillParts['moto']['clientConfig'],
  provider: string,
): Promise<void> {
  await createDynamoDbClient(clientConfig).send(
    new UpdateItemCommand({
      TableName: TABLE,
      Key: { provider: { S: provider } },
      UpdateExpression: 'REMOVE recordedFence',
    }),
  );
}
