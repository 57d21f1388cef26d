/**
 * Drill 3, provider faults (issue #6). Faults are injected in front of oidc-provider's token endpoint
 * by the harness (`setFault`: status, raw body, stall, connection reset). Per fault and provider:
 *
 * 1. A healthy refresh stores token T1 (1 h); the drill clock moves to its due time (5 min left).
 * 2. The fault is switched on for good. The scheduler ticks every minute until 1 min past T1's expiry,
 *    and a consumer reads through the read handler (Invoke) at every tick: it must get T1 while T1 has
 *    more than the read path's 5 s of validity left, and nothing after T1's expiry (by its clock).
 * 3. The metrics the alarms are built on must be in the EMF output: `RefreshFailed` with the single
 *    dimension `provider` (the refresh-failures alarm) and `SecondsToExpiry` falling below the stale
 *    alarm's threshold (half the 5 min lead) before the token expired.
 * 4. The fault is cleared. Transient faults (every fault here, including a malformed 2xx and an
 *    unusable `expires_in`): no provider call before the backoff's `retryAt` (and not before
 *    `Retry-After`), and the first tick after it refreshes with exactly one call. A fault classified
 *    permanent would stop all calls until an operator forces a refresh: the drill asserts that, and
 *    that the forced refresh recovers. Faults the product accepts (a JSON token as text/plain, whole
 *    seconds as a string) are listed to show what a consumer then gets.
 *
 * "30 s stall": the provider's `requestTimeout` is 2 s, so a 30 s stall is a timeout and the drill never
 * waits 30 s. The rotating provider gets a stall that never answers instead: a server that completes a
 * refresh after the client gave up has rotated the refresh token into the void, which the rotation-faults
 * drill covers against a strict server. On the rotating grant, a timeout or a connection lost after
 * sending is `rotation_outcome_unknown`, permanent (issue #11): the refresh token is not replayed until
 * an operator forces a refresh; oidc-provider never processed these requests, so that recovers.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readReadEnvironment } from '../../functions/core/env.js';
import type { RefreshResult, TokenRecord } from '../../functions/core/types.js';
import { composeReadHandler } from '../../functions/read/app.js';
import { inProcessRefreshTrigger, refreshHandlerFromEnvironment } from '../../functions/refresh/app.js';
import type { TokenEndpointFault } from '../support/oauth-server.js';
import {
  CLIENTS,
  CREDENTIALS,
  DrillClock,
  type DrillParts,
  emfDatapoints,
  inspect,
  iterations,
  MINUTE,
  MODE,
  metricSum,
  refreshEnvironment,
  reportDrill,
  resetWorld,
  reuseDetections,
  startDrillParts,
} from './support.js';

const RUNS = iterations(1, 5);
const TICK_MS = 60_000;
/** The stale alarm's default threshold: half the effective lead time (5 min). */
const STALE_THRESHOLD_SECONDS = 150;

type Grant = 'cc' | 'rotating';

interface FaultCase {
  readonly label: string;
  readonly fault: TokenEndpointFault;
  readonly grants: readonly Grant[];
  /** The code the refresh fails with; `undefined`: the response is accepted. */
  readonly code?: string;
  readonly permanent?: boolean;
  /** `Retry-After` the backoff must honour (seconds). */
  readonly retryAfterSeconds?: number;
}

const json = (body: string): TokenEndpointFault => ({
  kind: 'body',
  status: 200,
  contentType: 'application/json',
  body,
});

const FAULTS: readonly FaultCase[] = [
  {
    label: '503 with an HTML page',
    fault: {
      kind: 'status',
      status: 503,
      body: '<html>down</html>',
      headers: { 'content-type': 'text/html' },
    },
    grants: ['cc', 'rotating'],
    code: 'http_503',
    permanent: false,
  },
  {
    label: '500 with no body',
    fault: { kind: 'status', status: 500 },
    grants: ['cc', 'rotating'],
    code: 'http_500',
    permanent: false,
  },
  {
    label: '429 with Retry-After: 120',
    fault: { kind: 'status', status: 429, headers: { 'retry-after': '120' } },
    grants: ['cc', 'rotating'],
    code: 'rate_limited',
    permanent: false,
    retryAfterSeconds: 120,
  },
  {
    label: 'connection reset',
    fault: { kind: 'disconnect' },
    grants: ['cc'],
    code: 'network_error',
    permanent: false,
  },
  {
    // The request was sent and no answer came: the server may have rotated the refresh token, so it
    // is not replayed automatically (issue #11; the rotation-faults drill covers a server that did).
    // This server never processed it, so the operator's forced refresh recovers.
    label: 'connection reset',
    fault: { kind: 'disconnect' },
    grants: ['rotating'],
    code: 'rotation_outcome_unknown',
    permanent: true,
  },
  {
    label: '30 s stall (request timeout 2 s)',
    fault: { kind: 'delay', ms: 30_000 },
    grants: ['cc'],
    code: 'timeout',
    permanent: false,
  },
  {
    label: 'stall that never answers (request timeout 2 s)',
    fault: { kind: 'delay', ms: Number.POSITIVE_INFINITY },
    grants: ['rotating'],
    code: 'rotation_outcome_unknown',
    permanent: true,
  },
  {
    label: 'truncated JSON',
    fault: json('{"access_token":"drill-truncated-token-5e0b'),
    grants: ['cc', 'rotating'],
    code: 'malformed_response',
    permanent: false,
  },
  {
    label: 'wrong content type (a 200 HTML page)',
    fault: { kind: 'body', status: 200, contentType: 'text/html', body: '<html><body>Sign in</body></html>' },
    grants: ['cc', 'rotating'],
    code: 'malformed_response',
    permanent: false,
  },
  {
    // Accepted by design (functions/providers/oauth.ts): a JSON object is read whatever the
    // Content-Type says. Listed so the drill shows what a consumer then gets.
    label: 'wrong content type (a JSON token as text/plain)',
    fault: {
      kind: 'body',
      status: 200,
      contentType: 'text/plain',
      body: '{"access_token":"drill-text-plain-token-7a3c19","token_type":"Bearer","expires_in":3600}',
    },
    grants: ['cc', 'rotating'],
  },
  {
    label: 'expires_in 0',
    fault: json('{"access_token":"drill-zero-lifetime-token-1c8e","token_type":"Bearer","expires_in":0}'),
    grants: ['cc', 'rotating'],
    code: 'invalid_lifetime',
    permanent: false,
  },
  {
    label: 'expires_in -1',
    fault: json(
      '{"access_token":"drill-negative-lifetime-token-0d4f","token_type":"Bearer","expires_in":-1}',
    ),
    grants: ['cc', 'rotating'],
    code: 'invalid_lifetime',
    permanent: false,
  },
  {
    // Accepted: whole seconds as a string of digits, as Microsoft Entra ID v1 sends them.
    label: 'expires_in "3600" (a string)',
    fault: json(
      '{"access_token":"drill-string-lifetime-token-93ab","token_type":"Bearer","expires_in":"3600"}',
    ),
    grants: ['cc', 'rotating'],
  },
  {
    // Not a fault of the list: the one permanent answer here, so the drill keeps proving that
    // a permanent failure stops the calls and that an operator's forced refresh recovers.
    label: '400 invalid_client (credentials refused)',
    fault: {
      kind: 'body',
      status: 400,
      contentType: 'application/json',
      body: '{"error":"invalid_client","error_description":"client authentication failed"}',
    },
    grants: ['cc'],
    code: 'invalid_client',
    permanent: true,
  },
  {
    label: 'expires_in 1e12',
    fault: json('{"access_token":"drill-huge-lifetime-token-6b72","token_type":"Bearer","expires_in":1e12}'),
    grants: ['cc', 'rotating'],
    code: 'invalid_lifetime',
    permanent: false,
  },
];

/** Token values the faults inject: secrets for the leak scan like any issued token. */
const INJECTED_TOKENS = FAULTS.flatMap(({ fault }) =>
  fault.kind === 'body' ? [...fault.body.matchAll(/"access_token":"([^"]+)/g)].map((match) => match[1]) : [],
);

interface Served {
  readonly accessToken: string;
  readonly expiresAt: string;
}

interface ScenarioFigures {
  readonly grant: Grant;
  readonly label: string;
  readonly faultedCalls: number;
  readonly reads: number;
  readonly servedLastValid: number;
  readonly refusedAfterExpiry: number;
  readonly recovery: 'after-backoff' | 'operator-force' | 'accepted';
  readonly problems: readonly string[];
}

describe(`Drill: provider faults in front of oidc-provider (${MODE} mode, ${RUNS} run(s) per fault)`, () => {
  let parts: DrillParts;
  const clock = new DrillClock();
  const figures: ScenarioFigures[] = [];
  const providers = () => [
    { name: 'cc', grant: 'client_credentials', tokenUrl: parts.oauth.tokenUrl, requestTimeout: 2 },
    { name: 'rotating', grant: 'refresh_token', tokenUrl: parts.oauth.tokenUrl, requestTimeout: 2 },
  ];

  beforeAll(async () => {
    parts = await startDrillParts({ clients: [CLIENTS.cc, CLIENTS.rotating] });
    parts.secrets.add(...INJECTED_TOKENS);
  });

  afterAll(async () => {
    await parts?.stop();
  });

  /** One refresh container and one read container (the read one triggers on-demand refreshes in-process). */
  function containers() {
    const clientConfig = { ...parts.moto.clientConfig, maxAttempts: 1 };
    const refresh = refreshHandlerFromEnvironment(refreshEnvironment(providers()), { clientConfig, clock });
    const read = composeReadHandler(
      readReadEnvironment({
        PROVIDERS_CONFIG: refreshEnvironment(providers()).PROVIDERS_CONFIG,
        REFRESH_FUNCTION_NAME: 'in-process',
      }),
      { clientConfig, clock, trigger: inProcessRefreshTrigger(refresh, 30_000) },
    );
    const tick = async (provider: Grant, force = false) =>
      (await refresh(force ? { provider, force } : { provider }, {
        awsRequestId: randomUUID(),
        getRemainingTimeInMillis: () => 30_000,
      })) as RefreshResult;
    const get = async (provider: Grant) => {
      const response = (await read({ provider })) as Served | { error: { code: string } };
      return 'error' in response ? undefined : response;
    };
    return { tick, get };
  }

  /** One scenario as its phases share it. */
  interface FaultScenario {
    readonly grant: Grant;
    readonly spec: FaultCase;
    readonly tick: ReturnType<typeof containers>['tick'];
    readonly get: ReturnType<typeof containers>['get'];
    readonly view: ReturnType<typeof inspect>;
    readonly problems: string[];
    /** Records a problem unless the condition holds. */
    readonly check: (condition: boolean, problem: string) => void;
    /** The last token stored before the fault, and its expiry. */
    readonly lastValid: TokenRecord;
    readonly expiresAt: number;
  }

  /** What the ticks and reads under the fault counted. */
  interface UnderFault {
    reads: number;
    readsAfterExpiry: number;
    servedLastValid: number;
    refusedAfterExpiry: number;
    lastResult: RefreshResult | undefined;
    /** Each attempted failure: when it happened and the retry time it set. */
    readonly backoffs: { failedAt: number; retryAt: number }[];
    faultedCalls: number;
  }

  async function scenario(grant: Grant, spec: FaultCase): Promise<ScenarioFigures> {
    const problems: string[] = [];
    const check = (condition: boolean, problem: string) => {
      if (!condition) problems.push(problem);
    };
    await resetWorld(parts, { [grant]: CREDENTIALS[grant] });
    parts.secrets.addIssued(parts.oauth);
    parts.oauth.resetCounters();
    const outputFrom = parts.output.length;
    const { tick, get } = containers();
    const view = inspect(parts.moto.clientConfig);

    // 1. A healthy token, then its due time.
    const first = await tick(grant);
    check(first.status === 'refreshed', `the healthy refresh ended ${first.status}`);
    const lastValid = await view.token(grant);
    if (lastValid === undefined) throw new Error('no token after the healthy refresh');
    const expiresAt = Date.parse(lastValid.expiresAt);
    clock.advance(expiresAt - 5 * MINUTE + 1_000 - clock.now());
    const run: FaultScenario = { grant, spec, tick, get, view, problems, check, lastValid, expiresAt };

    // 2. The fault for good; a tick a minute until 1 min past the expiry, a read at every tick.
    parts.oauth.setFault(spec.fault);
    const callsBefore = parts.oauth.tokenRequests.total;
    const counted = await tickAndReadUnderFault(run);
    counted.faultedCalls = parts.oauth.tokenRequests.total - callsBefore;
    parts.oauth.setFault(undefined);

    if (spec.code === undefined) {
      // Accepted response: it was stored like any token, and the consumer got it before T1 expired.
      const stored = await view.token(grant);
      check(
        stored !== undefined && stored.accessToken !== lastValid.accessToken,
        'the accepted token was not stored',
      );
      figures.push(scenarioFigures(run, counted, 'accepted'));
      return figures[figures.length - 1] as ScenarioFigures;
    }

    check(
      counted.readsAfterExpiry > 0 && counted.refusedAfterExpiry === counted.readsAfterExpiry,
      `${counted.readsAfterExpiry - counted.refusedAfterExpiry} of ${counted.readsAfterExpiry} reads after the expiry got a token`,
    );
    check(
      counted.lastResult?.status === 'failed' && counted.lastResult.permanent === spec.permanent,
      `the failure was not ${spec.permanent ? 'permanent' : 'transient'}`,
    );
    checkAlarmMetrics(run, outputFrom);

    // 4. Recovery.
    const recovery = spec.permanent
      ? await recoverByOperator(run, counted.faultedCalls, callsBefore)
      : await recoverAfterBackoff(run, counted);
    const served = await get(grant);
    const stored = await view.token(grant);
    check(
      served !== undefined &&
        served.accessToken === stored?.accessToken &&
        served.accessToken !== lastValid.accessToken,
      'the consumer does not get the new token after the recovery',
    );
    check(reuseDetections(parts.oauth) === 0, 'a refresh token was replayed');
    parts.secrets.addIssued(parts.oauth);
    const result = scenarioFigures(run, counted, recovery);
    figures.push(result);
    return result;
  }

  function scenarioFigures(
    run: FaultScenario,
    counted: UnderFault,
    recovery: ScenarioFigures['recovery'],
  ): ScenarioFigures {
    return {
      grant: run.grant,
      label: run.spec.label,
      faultedCalls: counted.faultedCalls,
      reads: counted.reads,
      servedLastValid: counted.servedLastValid,
      refusedAfterExpiry: counted.refusedAfterExpiry,
      recovery,
      problems: run.problems,
    };
  }

  /** A tick a minute, and a read at every tick, until 1 min past the last valid token's expiry. */
  async function tickAndReadUnderFault(run: FaultScenario): Promise<UnderFault> {
    const counted: UnderFault = {
      reads: 0,
      readsAfterExpiry: 0,
      servedLastValid: 0,
      refusedAfterExpiry: 0,
      lastResult: undefined,
      backoffs: [],
      faultedCalls: 0,
    };
    for (;;) {
      await tickUnderFault(run, counted);
      await readUnderFault(run, counted);
      if (clock.now() >= run.expiresAt + MINUTE) break;
      clock.advance(TICK_MS);
    }
    return counted;
  }

  async function tickUnderFault(run: FaultScenario, counted: UnderFault): Promise<void> {
    const { grant, spec, problems } = run;
    const tickAt = clock.now();
    const result = await run.tick(grant);
    if (spec.code !== undefined && result.status !== 'failed') {
      problems.push(`a tick under the fault ended ${result.status}`);
    }
    if (result.status === 'failed' && spec.code !== undefined && result.code !== spec.code) {
      problems.push(`a tick failed with ${result.code}, expected ${spec.code}`);
    }
    if (result.status === 'failed' && result.attempted) {
      counted.lastResult = result;
      // The failure happened during the tick, so its retry time is at least Retry-After after `tickAt`.
      counted.backoffs.push({ failedAt: tickAt, retryAt: Date.parse(result.retryAt ?? '') });
    }
  }

  /** A read: never an expired token, the last valid one while it lasts, none after its expiry. */
  async function readUnderFault(run: FaultScenario, counted: UnderFault): Promise<void> {
    const { spec, problems, check, lastValid, expiresAt } = run;
    const readAt = clock.now();
    const served = await run.get(run.grant);
    counted.reads += 1;
    if (readAt >= expiresAt) counted.readsAfterExpiry += 1;
    if (served !== undefined) {
      check(Date.parse(served.expiresAt) > readAt, `served a token expired at ${served.expiresAt}`);
      if (served.accessToken === lastValid.accessToken) counted.servedLastValid += 1;
      else if (spec.code !== undefined) problems.push('served a token other than the last valid one');
    } else if (readAt >= expiresAt) {
      counted.refusedAfterExpiry += 1;
    } else if (expiresAt - readAt > 5_000 && spec.code !== undefined) {
      problems.push(
        `no token served ${Math.round((expiresAt - readAt) / 1000)} s before the last one expired`,
      );
    }
  }

  /** 3. The alarms' metrics: RefreshFailed, one dimension set, SecondsToExpiry below the stale threshold. */
  function checkAlarmMetrics(run: FaultScenario, outputFrom: number): void {
    const { grant, check } = run;
    const points = emfDatapoints(parts.output.since(outputFrom));
    check(metricSum(points, 'RefreshFailed', grant) >= 1, 'no RefreshFailed datapoint');
    check(
      points.every((point) => JSON.stringify(point.dimensions) === '[["provider"]]'),
      'a metric with another dimension set than [provider]',
    );
    const secondsToExpiry = points.filter(
      (point) => point.name === 'SecondsToExpiry' && point.provider === grant,
    );
    check(
      secondsToExpiry.some((point) => point.value > 0 && point.value < STALE_THRESHOLD_SECONDS),
      'SecondsToExpiry never fell below the stale alarm threshold before the expiry',
    );
  }

  /** A permanent failure: no further call, even an hour later, until the operator forces a refresh. */
  async function recoverByOperator(
    run: FaultScenario,
    faultedCalls: number,
    callsBefore: number,
  ): Promise<ScenarioFigures['recovery']> {
    const { grant, check } = run;
    check(faultedCalls === 1, `${faultedCalls} provider calls after a permanent failure (expected 1)`);
    clock.advance(60 * MINUTE);
    const blocked = await run.tick(grant);
    check(
      blocked.status === 'failed' &&
        !blocked.attempted &&
        parts.oauth.tokenRequests.total === callsBefore + 1,
      'a permanent failure did not stop the calls',
    );
    const forced = await run.tick(grant, true);
    check(forced.status === 'refreshed', `the operator's forced refresh ended ${forced.status}`);
    return 'operator-force';
  }

  /** A transient failure: backed off (honouring Retry-After), no call before the end, one call after it. */
  async function recoverAfterBackoff(
    run: FaultScenario,
    counted: UnderFault,
  ): Promise<ScenarioFigures['recovery']> {
    const { grant, spec, check, view } = run;
    const { faultedCalls, backoffs } = counted;
    check(faultedCalls >= 2, `only ${faultedCalls} provider call(s) in 6 min of a transient fault`);
    const state = await view.state(grant);
    const retryAt = state?.nextRefreshAt ?? 0;
    check(retryAt > clock.now(), 'no backoff pending after the fault window');
    if (spec.retryAfterSeconds !== undefined) {
      const short = backoffs.filter(
        ({ failedAt, retryAt }) => !(retryAt - failedAt >= (spec.retryAfterSeconds ?? 0) * 1000),
      );
      check(backoffs.length > 0 && short.length === 0, `${short.length} backoff(s) shorter than Retry-After`);
    }
    clock.advance(retryAt - clock.now() - 1_000);
    const early = parts.oauth.tokenRequests.total;
    const before = await run.tick(grant);
    check(
      before.status === 'failed' && !before.attempted && parts.oauth.tokenRequests.total === early,
      'the provider was called before the backoff ended',
    );
    clock.advance(2_000);
    const recovered = await run.tick(grant);
    check(recovered.status === 'refreshed', `the first tick after the backoff ended ${recovered.status}`);
    check(parts.oauth.tokenRequests.total === early + 1, 'recovery took more than one provider call');
    return 'after-backoff';
  }

  describe.each(['cc', 'rotating'] as const)('provider %s', (grant) => {
    const cases = FAULTS.filter((spec) => spec.grants.includes(grant)).map(
      (spec) =>
        [
          spec.label,
          spec.code === undefined
            ? 'accepted as a token (a JSON object is read whatever the Content-Type says)'
            : `${spec.code}: the last valid token is served until it expires, never after; RefreshFailed emitted; ` +
              (spec.permanent
                ? 'classified permanent: no call until an operator forces a refresh, which recovers'
                : 'recovery at the first tick after the backoff'),
          spec,
        ] as const,
    );
    it.each(cases)('%s → %s', async (_label, _outcome, spec) => {
      // Act
      const runs: ScenarioFigures[] = [];
      for (let run = 0; run < RUNS; run += 1) runs.push(await scenario(grant, spec));

      // Assess
      expect(runs.flatMap((run) => run.problems)).toEqual([]);
    });
  });

  it('reports the figures, and never logged a token or secret (runs last)', () => {
    // Prepare
    parts.secrets.addIssued(parts.oauth);

    // Act
    const { scanned, leaked } = parts.secrets.scan(parts.output.text());

    // Assess
    for (const entry of figures.filter((_, index) => index % RUNS === 0)) {
      const runs = figures.filter((other) => other.grant === entry.grant && other.label === entry.label);
      reportDrill(`provider-fault provider=${entry.grant} fault="${entry.label}"`, {
        runs: runs.length,
        providerCallsUnderFault: runs.reduce((sum, run) => sum + run.faultedCalls, 0),
        readsServedLastValid: runs.reduce((sum, run) => sum + run.servedLastValid, 0),
        readsRefusedAfterExpiry: runs.reduce((sum, run) => sum + run.refusedAfterExpiry, 0),
        recovery: entry.recovery,
        failures: runs.filter((run) => run.problems.length > 0).length,
      });
    }
    reportDrill('provider-fault total', {
      faults: new Set(figures.map((entry) => entry.label)).size,
      scenarios: figures.length,
      failures: figures.filter((entry) => entry.problems.length > 0).length,
      recoveredAfterBackoff: figures.filter((entry) => entry.recovery === 'after-backoff').length,
      neededOperatorForce: figures.filter((entry) => entry.recovery === 'operator-force').length,
    });
    reportDrill('provider-fault secrets-in-logs', { valuesScanned: scanned, hits: leaked.length });
    expect(figures.length).toBe(FAULTS.reduce((sum, spec) => sum + spec.grants.length, 0) * RUNS);
    expect(leaked).toEqual([]);
  });
});
