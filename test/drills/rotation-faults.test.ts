/**
 * Drill 7, rotation faults (issue #11): the service's rotating `refresh_token` grant against the strict
 * rotating server of `test/support` (rotation at arrival, the whole family revoked when a spent refresh
 * token is replayed), with faults queued on the token endpoint. Two providers: `client_secret_basic`
 * and `client_secret_post`; `requestTimeout` 2 s.
 *
 * Per fault and provider: a healthy refresh stores T1 (1 h), the drill clock moves to its due time and
 * the fault is queued for the next answer.
 *
 * - **Rotated, then a bad body** (`expires_in` 0, negative, over one year or a word, `token_type`
 *   "mac", `scope` 42, no `access_token`): the rotated refresh token is stored first — the credentials
 *   secret holds the server's latest — then the failure is recorded with the body's code; T1 stays
 *   stored and served. A transient code recovers at the first tick after the backoff, a permanent one
 *   (`unsupported_token_type`) at the operator's forced refresh. 0 reuse detections throughout.
 * - **503** (no rotation): the same, with the refresh token unchanged.
 * - **A stall shorter than the request timeout**: refreshed, nothing special.
 * - **Stall-then-complete** (3 s, over the 2 s `requestTimeout`): the server rotated at arrival and
 *   answers into the void. The policy (issue #11): `rotation_outcome_unknown`, permanent — no provider
 *   call afterwards (0 replays, 0 reuse while unforced), T1 served until it expires and never after, a
 *   `needs-reauthorization` event with that code. The operator's forced refresh replays the spent
 *   refresh token: on this server that is `invalid_grant` and 1 reuse detection (the family is
 *   revoked, by the operator's explicit action). After re-seeding the credentials secret with a new
 *   family's refresh token, a forced refresh recovers.
 */
import { randomUUID } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readReadEnvironment } from '../../functions/core/env.js';
import type { RefreshResult, TokenRecord } from '../../functions/core/types.js';
import { composeReadHandler } from '../../functions/read/app.js';
import { createRefreshHandler, inProcessRefreshTrigger } from '../../functions/refresh/app.js';
import { putCredentials } from '../support/resources.js';
import type { StrictClient, StrictFault } from '../support/strict-oauth-server.js';
import {
  DrillClock,
  engineFrom,
  inspect,
  iterations,
  MINUTE,
  MODE,
  PREFIX,
  RecordedEvents,
  realPorts,
  refreshEnvironment,
  reportDrill,
  resetStrictWorld,
  type StrictDrillParts,
  startStrictDrillParts,
  validatedProviders,
} from './support.js';

const RUNS = iterations(1, 5);
/** The provider's `requestTimeout` in this drill (seconds). */
const REQUEST_TIMEOUT_S = 2;
const TICK_MS = 60_000;

const CLIENTS: Readonly<Record<Provider, StrictClient>> = {
  basic: {
    clientId: 'drill-strict-basic',
    clientSecret: 'drill-strict-basic-secret-5a0c31',
    authMethod: 'client_secret_basic',
  },
  post: {
    clientId: 'drill-strict-post',
    clientSecret: 'drill-strict-post-secret-e27b94',
    authMethod: 'client_secret_post',
  },
};

type Provider = 'basic' | 'post';
const PROVIDERS: readonly Provider[] = ['basic', 'post'];

interface FaultCase {
  readonly label: string;
  readonly fault: StrictFault;
  /** What the faulted call ends with. */
  readonly outcome:
    | { readonly kind: 'failed'; readonly code: string; readonly permanent: boolean }
    | { readonly kind: 'refreshed' }
    | { readonly kind: 'outcome-unknown' };
  /** Whether the server rotates the refresh token on the faulted call. */
  readonly rotates: boolean;
}

const badBody = (fields: Record<string, unknown>): StrictFault => ({ kind: 'rotate-with-body', fields });
const transient = (code: string) => ({ kind: 'failed', code, permanent: false }) as const;

const FAULTS: readonly FaultCase[] = [
  {
    label: 'expires_in 0',
    fault: badBody({ expires_in: 0 }),
    outcome: transient('invalid_lifetime'),
    rotates: true,
  },
  {
    label: 'expires_in -60',
    fault: badBody({ expires_in: -60 }),
    outcome: transient('invalid_lifetime'),
    rotates: true,
  },
  {
    label: 'expires_in 40000000 (over one year)',
    fault: badBody({ expires_in: 40_000_000 }),
    outcome: transient('invalid_lifetime'),
    rotates: true,
  },
  {
    label: 'expires_in "soon"',
    fault: badBody({ expires_in: 'soon' }),
    outcome: transient('invalid_lifetime'),
    rotates: true,
  },
  {
    label: 'token_type "mac"',
    fault: badBody({ token_type: 'mac' }),
    outcome: { kind: 'failed', code: 'unsupported_token_type', permanent: true },
    rotates: true,
  },
  {
    label: 'scope 42',
    fault: badBody({ scope: 42 }),
    outcome: transient('malformed_response'),
    rotates: true,
  },
  {
    label: 'no access_token',
    fault: badBody({ access_token: undefined }),
    outcome: transient('malformed_response'),
    rotates: true,
  },
  {
    label: '503 (no rotation)',
    fault: {
      kind: 'status',
      status: 503,
      body: '<html>down</html>',
      headers: { 'content-type': 'text/html' },
    },
    outcome: transient('http_503'),
    rotates: false,
  },
  {
    label: 'stall 500 ms (within the request timeout)',
    fault: { kind: 'stall', ms: 500 },
    outcome: { kind: 'refreshed' },
    rotates: true,
  },
  {
    label: `stall 3 s, then complete (request timeout ${REQUEST_TIMEOUT_S} s)`,
    fault: { kind: 'stall', ms: 3_000 },
    outcome: { kind: 'outcome-unknown' },
    rotates: true,
  },
];

interface Served {
  readonly accessToken: string;
  readonly expiresAt: string;
}

interface ScenarioFigures {
  readonly provider: Provider;
  readonly label: string;
  /** Reuse detections before any forced refresh of an operator. */
  readonly reuseUnforced: number;
  /** Reuse detections caused by the operator's forced refresh (stall-then-complete only). */
  readonly reuseByOperator: number;
  /** Token requests after the faulted one while no operator acted (replays, retries). */
  readonly callsAfterFault: number;
  /** Stalled answers the client no longer waited for (a rotated refresh token lost in the void). */
  readonly answersLost: number;
  readonly recovery: 'after-backoff' | 'operator-force' | 'operator-reseed' | 'none-needed';
  readonly problems: readonly string[];
}

describe(`Drill: rotation faults against a strict rotating server (${MODE} mode, ${RUNS} run(s) per fault)`, () => {
  let parts: StrictDrillParts;
  const clock = new DrillClock();
  const figures: ScenarioFigures[] = [];
  const providerEntries = () =>
    PROVIDERS.map((name) => ({
      name,
      grant: 'refresh_token',
      tokenUrl: parts.strict.tokenUrl,
      clientAuth: CLIENTS[name].authMethod,
      requestTimeout: REQUEST_TIMEOUT_S,
    }));

  beforeAll(async () => {
    parts = await startStrictDrillParts({ clients: Object.values(CLIENTS) });
  });

  afterAll(async () => {
    await parts?.stop();
  });

  /** One refresh container (engine with recorded events) and one read container. */
  function containers() {
    const clientConfig = parts.moto.clientConfig;
    const ports = realPorts(clientConfig, clock);
    const events = new RecordedEvents();
    const refresh = createRefreshHandler({
      engine: engineFrom(ports, clock, { events }),
      providers: validatedProviders(providerEntries()),
      logger: ports.logger,
      publishMetrics: () => ports.metrics.publish(),
    });
    const read = composeReadHandler(
      readReadEnvironment({
        PROVIDERS_CONFIG: refreshEnvironment(providerEntries()).PROVIDERS_CONFIG,
        REFRESH_FUNCTION_NAME: 'in-process',
      }),
      { clientConfig, clock, trigger: inProcessRefreshTrigger(refresh, 30_000) },
    );
    const tick = async (provider: Provider, force = false) =>
      (await refresh(force ? { provider, force } : { provider }, {
        awsRequestId: randomUUID(),
        getRemainingTimeInMillis: () => 30_000,
      })) as RefreshResult;
    const get = async (provider: Provider) => {
      const response = (await read({ provider })) as Served | { error: { code: string } };
      return 'error' in response ? undefined : response;
    };
    return { tick, get, events };
  }

  /** One scenario as its phases share it. */
  interface RotationScenario {
    readonly provider: Provider;
    readonly spec: FaultCase;
    readonly tick: ReturnType<typeof containers>['tick'];
    readonly get: ReturnType<typeof containers>['get'];
    readonly events: ReturnType<typeof containers>['events'];
    readonly view: ReturnType<typeof inspect>;
    /** Records a problem unless the condition holds. */
    readonly check: (condition: boolean, problem: string) => void;
    /** The refresh-token family the world was seeded with, and its latest refresh token. */
    readonly family: string;
    readonly latest: () => string | undefined;
    /** The healthy token before the fault, and its expiry. */
    readonly t1: TokenRecord;
    readonly t1ExpiresAt: number;
  }

  /** What the faulted call left behind. */
  interface AfterFault {
    readonly faulted: RefreshResult;
    readonly storedRefreshToken: string | undefined;
    readonly tokenAfterFault: TokenRecord | undefined;
    readonly refreshTokenBefore: string | undefined;
  }

  /** How a scenario recovered, with the provider calls and reuse detections it took. */
  interface Recovered {
    readonly recovery: ScenarioFigures['recovery'];
    readonly callsAfterFault: number;
    readonly reuseByOperator: number;
  }

  async function scenario(provider: Provider, spec: FaultCase): Promise<ScenarioFigures> {
    const problems: string[] = [];
    const check = (condition: boolean, problem: string) => {
      if (!condition) problems.push(problem);
    };
    const { strict } = parts;
    const seeded = await resetStrictWorld(parts, {
      [provider]: {
        clientId: CLIENTS[provider].clientId,
        clientSecret: CLIENTS[provider].clientSecret,
        refreshToken: 'seed',
      },
    });
    const family = strict.familyOf(seeded[provider]?.refreshToken ?? '')?.familyId ?? '';
    const latest = () => strict.family(family)?.latestRefreshToken;
    const { tick, get, events } = containers();
    const view = inspect(parts.moto.clientConfig);

    // 1. A healthy token T1, then its due time.
    const first = await tick(provider);
    check(first.status === 'refreshed', `the healthy refresh ended ${first.status}`);
    const t1 = await view.token(provider);
    if (t1 === undefined) throw new Error('no token after the healthy refresh');
    const t1ExpiresAt = Date.parse(t1.expiresAt);
    clock.advance(t1ExpiresAt - 5 * MINUTE + 1_000 - clock.now());
    const run: RotationScenario = {
      provider,
      spec,
      tick,
      get,
      events,
      view,
      check,
      family,
      latest,
      t1,
      t1ExpiresAt,
    };
    const refreshTokenBefore = await view.refreshToken(provider);
    check(refreshTokenBefore === latest(), 'the healthy refresh did not store the rotated refresh token');

    const afterFault = await faultedCall(run, refreshTokenBefore);
    const { recovery, callsAfterFault, reuseByOperator } = await recover(run, afterFault);
    const reuseUnforced = await checkEnd(run, reuseByOperator);
    parts.secrets.add(...strict.issuedTokens);
    const result: ScenarioFigures = {
      provider,
      label: spec.label,
      reuseUnforced,
      reuseByOperator,
      callsAfterFault,
      answersLost: strict.counters.answersLost,
      recovery,
      problems,
    };
    figures.push(result);
    return result;
  }

  /** 2. The fault, for the next answer only. */
  async function faultedCall(
    run: RotationScenario,
    refreshTokenBefore: string | undefined,
  ): Promise<AfterFault> {
    const { provider, spec, view, check, latest } = run;
    const { strict } = parts;
    strict.queueFault(spec.fault);
    const requestsBefore = strict.counters.tokenRequests;
    const faulted = await run.tick(provider);
    const storedRefreshToken = await view.refreshToken(provider);
    const tokenAfterFault = await view.token(provider);
    check(strict.pendingFaults === 0, 'the fault was not used');
    const faultedCalls = strict.counters.tokenRequests - requestsBefore;
    check(faultedCalls === 1, `${faultedCalls} token requests in the faulted run (expected 1)`);
    check(
      (latest() !== refreshTokenBefore) === spec.rotates,
      spec.rotates ? 'the server did not rotate' : 'the server rotated',
    );
    return { faulted, storedRefreshToken, tokenAfterFault, refreshTokenBefore };
  }

  /** The recovery the fault's outcome calls for. */
  async function recover(run: RotationScenario, afterFault: AfterFault): Promise<Recovered> {
    const { outcome } = run.spec;
    if (outcome.kind === 'refreshed') {
      run.check(
        afterFault.faulted.status === 'refreshed',
        `the slow call ended ${afterFault.faulted.status}`,
      );
      run.check(
        afterFault.storedRefreshToken === run.latest(),
        'the stored refresh token is not the server’s latest',
      );
      return { recovery: 'none-needed', callsAfterFault: 0, reuseByOperator: 0 };
    }
    if (outcome.kind === 'failed') return recoverFromFailure(run, afterFault, outcome);
    return recoverFromUnknownOutcome(run, afterFault);
  }

  /** A failed call: the server's latest refresh token stored, T1 kept and served, one call to recover. */
  async function recoverFromFailure(
    run: RotationScenario,
    afterFault: AfterFault,
    outcome: { readonly code: string; readonly permanent: boolean },
  ): Promise<Recovered> {
    const { provider, view, check, t1 } = run;
    const { faulted, storedRefreshToken, tokenAfterFault } = afterFault;
    const { code, permanent } = outcome;
    const { strict } = parts;
    check(
      faulted.status === 'failed' && faulted.code === code && faulted.permanent === permanent,
      `the faulted call ended ${summary(faulted)}, expected failed ${code} (${permanent ? 'permanent' : 'transient'})`,
    );
    check(storedRefreshToken === run.latest(), 'the stored refresh token is not the server’s latest');
    check(tokenAfterFault?.accessToken === t1.accessToken, 'T1 is no longer the stored token');
    check((await run.get(provider))?.accessToken === t1.accessToken, 'T1 is not served after the fault');
    const state = await view.state(provider);
    check(state?.lastErrorCode === code, `recorded ${state?.lastErrorCode}, expected ${code}`);
    const afterFaultCalls = strict.counters.tokenRequests;
    const recovery = permanent
      ? await forcedAfterPermanent(run, afterFaultCalls)
      : await afterBackoff(run, state?.nextRefreshAt ?? 0, afterFaultCalls);
    const callsAfterFault = strict.counters.tokenRequests - afterFaultCalls;
    check(callsAfterFault === 1, `${callsAfterFault} provider calls to recover (expected 1)`);
    const failing = run.events.take();
    check(
      isDeepStrictEqual(failing, [
        { type: 'failing', provider, errorCode: code, permanent },
        { type: 'recovered', provider, failedAttempts: 1, lastErrorCode: code },
      ]),
      `events ${JSON.stringify(failing)}`,
    );
    return { recovery, callsAfterFault, reuseByOperator: 0 };
  }

  /** A permanent failure stops the calls, even an hour later; the operator's forced refresh recovers. */
  async function forcedAfterPermanent(
    run: RotationScenario,
    afterFaultCalls: number,
  ): Promise<ScenarioFigures['recovery']> {
    const { provider, check } = run;
    clock.advance(60 * MINUTE);
    const blocked = await run.tick(provider);
    check(
      blocked.status === 'failed' &&
        !blocked.attempted &&
        parts.strict.counters.tokenRequests === afterFaultCalls,
      `a permanent failure did not stop the calls (${summary(blocked)})`,
    );
    const forced = await run.tick(provider, true);
    check(forced.status === 'refreshed', `the operator's forced refresh ended ${summary(forced)}`);
    return 'operator-force';
  }

  /** A transient failure backs off: no call before the end, a refresh at the first tick after it. */
  async function afterBackoff(
    run: RotationScenario,
    retryAt: number,
    afterFaultCalls: number,
  ): Promise<ScenarioFigures['recovery']> {
    const { provider, check } = run;
    check(retryAt > clock.now(), 'no backoff pending after the fault');
    clock.advance(retryAt - clock.now() - 1_000);
    const early = await run.tick(provider);
    check(
      early.status === 'failed' &&
        !early.attempted &&
        parts.strict.counters.tokenRequests === afterFaultCalls,
      `the provider was called before the backoff ended (${summary(early)})`,
    );
    clock.advance(2_000);
    const recovered = await run.tick(provider);
    check(recovered.status === 'refreshed', `the first tick after the backoff ended ${summary(recovered)}`);
    return 'after-backoff';
  }

  /**
   * Stall-then-complete: the server rotated at arrival and answers after the client gave up. Nothing
   * replays automatically; the operator's forced refresh is refused (reuse), a re-seed recovers.
   */
  async function recoverFromUnknownOutcome(
    run: RotationScenario,
    afterFault: AfterFault,
  ): Promise<Recovered> {
    const { provider, check } = run;
    const { faulted, storedRefreshToken, refreshTokenBefore } = afterFault;
    const { strict } = parts;
    check(
      faulted.status === 'failed' && faulted.code === 'rotation_outcome_unknown' && faulted.permanent,
      `the timed-out call ended ${summary(faulted)}, expected failed rotation_outcome_unknown (permanent)`,
    );
    await strict.settled();
    check(strict.counters.answersLost === 1, `${strict.counters.answersLost} answers lost, expected 1`);
    check(storedRefreshToken === refreshTokenBefore, 'the stored refresh token changed without an answer');
    const published = run.events.take();
    check(
      isDeepStrictEqual(published, [
        { type: 'needs-reauthorization', provider, errorCode: 'rotation_outcome_unknown' },
      ]),
      `events after the timeout: ${JSON.stringify(published)}`,
    );
    const afterFaultCalls = strict.counters.tokenRequests;
    await ticksWhileBlocked(run);
    const callsAfterFault = strict.counters.tokenRequests - afterFaultCalls;
    check(callsAfterFault === 0, `${callsAfterFault} provider calls (replays) while unforced`);
    check(strict.counters.reuseDetections === 0, 'reuse detected before the operator acted');
    const reuseByOperator = await forceThenReseed(run);
    return { recovery: 'operator-reseed', callsAfterFault, reuseByOperator };
  }

  /** A tick a minute (and a read) until 1 min past T1's expiry: no provider call, T1 while valid. */
  async function ticksWhileBlocked(run: RotationScenario): Promise<void> {
    const { provider, check, t1, t1ExpiresAt } = run;
    for (;;) {
      const result = await run.tick(provider);
      check(
        result.status === 'failed' && !result.attempted && result.code === 'rotation_outcome_unknown',
        `a tick after the timeout ended ${summary(result)}`,
      );
      const readAt = clock.now();
      const served = await run.get(provider);
      if (readAt < t1ExpiresAt - 5_000) {
        check(
          served?.accessToken === t1.accessToken,
          `T1 not served ${(t1ExpiresAt - readAt) / 1000} s before expiry`,
        );
      } else if (readAt >= t1ExpiresAt) {
        check(served === undefined, 'a token was served after T1 expired');
      }
      if (clock.now() >= t1ExpiresAt + MINUTE) break;
      clock.advance(TICK_MS);
    }
  }

  /**
   * The operator forces a refresh: the spent refresh token is replayed once, and refused. Then the
   * operator re-seeds the credentials secret from a new authorization, and forces again.
   * @returns the reuse detections the forced refresh caused.
   */
  async function forceThenReseed(run: RotationScenario): Promise<number> {
    const { provider, view, check } = run;
    const { strict } = parts;
    const forced = await run.tick(provider, true);
    check(
      forced.status === 'failed' && forced.code === 'invalid_grant' && forced.permanent,
      `the forced refresh ended ${summary(forced)}, expected failed invalid_grant`,
    );
    const reuseByOperator = strict.counters.reuseDetections;
    check(reuseByOperator === 1, `${reuseByOperator} reuse detections after the forced refresh, expected 1`);
    check(strict.family(run.family)?.revoked === true, 'the family was not revoked');
    const reseeded = strict.seedFamily(CLIENTS[provider].clientId);
    await putCredentials(parts.moto.clientConfig, `${PREFIX}/${provider}/credentials`, {
      clientId: CLIENTS[provider].clientId,
      clientSecret: CLIENTS[provider].clientSecret,
      refreshToken: reseeded,
    });
    const recovered = await run.tick(provider, true);
    check(
      recovered.status === 'refreshed',
      `the forced refresh after the re-seed ended ${summary(recovered)}`,
    );
    check(
      (await view.refreshToken(provider)) === strict.familyOf(reseeded)?.latestRefreshToken,
      'the stored refresh token is not the new family’s latest',
    );
    const later = run.events.take();
    check(
      later.at(-1)?.type === 'recovered',
      `no recovered event after the re-seed (${JSON.stringify(later)})`,
    );
    return reuseByOperator;
  }

  /**
   * A new consumer (the first one may still cache T1, which is valid) gets the new token; the
   * server saw no replay except the operator's. @returns the reuse detections without an operator.
   */
  async function checkEnd(run: RotationScenario, reuseByOperator: number): Promise<number> {
    const { provider, view, check, t1 } = run;
    const { strict } = parts;
    const stored = await view.token(provider);
    const served = await containers().get(provider);
    check(
      served !== undefined &&
        served.accessToken === stored?.accessToken &&
        served.accessToken !== t1.accessToken,
      'the consumer does not get the new token after the recovery',
    );
    const reuseUnforced = strict.counters.reuseDetections - reuseByOperator;
    check(reuseUnforced === 0, `${reuseUnforced} reuse detection(s) without an operator`);
    const finalRefreshToken = (await view.refreshToken(provider)) ?? '';
    check(
      finalRefreshToken === strict.familyOf(finalRefreshToken)?.latestRefreshToken,
      'the stored refresh token is not its family’s latest at the end',
    );
    return reuseUnforced;
  }

  describe.each(PROVIDERS)('provider %s', (provider) => {
    it.each(FAULTS.map((spec) => [spec.label, expectation(spec), spec] as const))(
      '%s → %s',
      async (_label, _expectation, spec) => {
        // Act
        const runs: ScenarioFigures[] = [];
        for (let run = 0; run < RUNS; run += 1) runs.push(await scenario(provider, spec));

        // Assess
        expect(runs.flatMap((run) => run.problems)).toEqual([]);
      },
    );
  });

  it('reports the figures, and never logged a token or secret (runs last)', () => {
    // Prepare
    parts.secrets.add(...parts.strict.issuedTokens);

    // Act
    const { scanned, leaked } = parts.secrets.scan(parts.output.text());

    // Assess
    for (const entry of figures.filter((_, index) => index % RUNS === 0)) {
      const runs = figures.filter(
        (other) => other.provider === entry.provider && other.label === entry.label,
      );
      reportDrill(`rotation-fault provider=${entry.provider} fault="${entry.label}"`, {
        runs: runs.length,
        reuseUnforced: runs.reduce((sum, run) => sum + run.reuseUnforced, 0),
        reuseByOperatorForce: runs.reduce((sum, run) => sum + run.reuseByOperator, 0),
        callsAfterFault: runs.reduce((sum, run) => sum + run.callsAfterFault, 0),
        answersLost: runs.reduce((sum, run) => sum + run.answersLost, 0),
        recovery: entry.recovery,
        failures: runs.filter((run) => run.problems.length > 0).length,
      });
    }
    reportDrill('rotation-fault total', {
      faults: new Set(figures.map((entry) => entry.label)).size,
      scenarios: figures.length,
      failures: figures.filter((entry) => entry.problems.length > 0).length,
      reuseUnforced: figures.reduce((sum, entry) => sum + entry.reuseUnforced, 0),
      reuseByOperatorForce: figures.reduce((sum, entry) => sum + entry.reuseByOperator, 0),
    });
    reportDrill('rotation-fault secrets-in-logs', { valuesScanned: scanned, hits: leaked.length });
    expect(figures.length).toBe(FAULTS.length * PROVIDERS.length * RUNS);
    expect(leaked).toEqual([]);
  });
});

/** The expectation of a fault case, for the test name. */
function expectation(spec: FaultCase): string {
  switch (spec.outcome.kind) {
    case 'refreshed':
      return 'refreshed, 0 reuse';
    case 'failed':
      return (
        `${spec.rotates ? 'rotated refresh token stored, then ' : ''}${spec.outcome.code} ` +
        `(${spec.outcome.permanent ? 'permanent: recovered by a forced refresh' : 'transient: recovered after the backoff'}), ` +
        'T1 kept, 0 reuse'
      );
    case 'outcome-unknown':
      return (
        'rotation_outcome_unknown (permanent): no replay, T1 served until expiry, needs-reauthorization event; ' +
        'the forced refresh gets invalid_grant (1 reuse), a re-seed and a forced refresh recover'
      );
  }
}

function summary(result: RefreshResult): string {
  return result.status === 'failed'
    ? `failed ${result.code} (${result.permanent ? 'permanent' : 'transient'}, attempted ${result.attempted})`
    : result.status;
}
