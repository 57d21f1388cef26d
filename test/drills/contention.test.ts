/**
 * Drill 2, contention (issue #6): rounds of 20 concurrent triggers on one due provider. Each trigger
 * is its own "container" (its own refresh handler, SDK clients and provider client), all against one
 * moto server (serialised, so conditional writes are atomic as on AWS) and one oidc-provider.
 *
 * Per round the drill clock moves past the provider's due time, the 20 invocations run at once, and
 * the OAuth server counts the token requests: exactly one per round (a duplicate call of the rotating
 * provider would also replay its refresh token, which revokes the grant), and the stored token after
 * the round must be newer than before it (a higher generation, a later expiry, another value).
 *
 * Each grant runs twice (issue 16): with its token in its secret, and in the DynamoDB token store
 * (providers `cc-ddb`, `rotating-ddb`, same OAuth clients, their own refresh-token family), with the
 * same figures asserted.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TokenStoreKind } from '../../functions/core/config.js';
import type { RefreshResult } from '../../functions/core/types.js';
import { type RefreshHandler, refreshHandlerFromEnvironment } from '../../functions/refresh/app.js';
import {
  CLIENTS,
  CREDENTIALS,
  DrillClock,
  type DrillParts,
  inspect,
  iterations,
  MINUTE,
  MODE,
  refreshEnvironment,
  reportDrill,
  resetWorld,
  reuseDetections,
  startDrillParts,
} from './support.js';

/** The drill's providers: each grant with each token store. */
const PROVIDERS = [
  { name: 'cc', grant: 'client_credentials', store: 'secrets-manager' },
  { name: 'rotating', grant: 'refresh_token', store: 'secrets-manager' },
  { name: 'cc-ddb', grant: 'client_credentials', store: 'dynamodb' },
  { name: 'rotating-ddb', grant: 'refresh_token', store: 'dynamodb' },
] as const satisfies readonly { name: string; grant: string; store: TokenStoreKind }[];

const TRIGGERS = 20;
/**
 * Rounds per provider: the 1,000 in long mode. CI runs 25 (500 triggers per provider): a round
 * costs about 45 moto calls (~0.35 s), so 1,000 rounds would take about 6 min per provider.
 */
const ROUNDS = iterations(25, 1_000);

describe(`Drill: contention, ${ROUNDS} rounds × ${TRIGGERS} concurrent triggers per provider (${MODE} mode)`, () => {
  let parts: DrillParts;
  const clock = new DrillClock();
  const providers = () =>
    PROVIDERS.map(({ name, grant, store }) => ({
      name,
      grant,
      tokenUrl: parts.oauth.tokenUrl,
      requestTimeout: 5,
      tokenStore: store,
    }));
  const totals = { rounds: 0, triggers: 0, providerCalls: 0, duplicates: 0, roundsWithoutFreshToken: 0 };

  beforeAll(async () => {
    parts = await startDrillParts({ clients: [CLIENTS.cc, CLIENTS.rotating] });
    await resetWorld(
      parts,
      {
        cc: CREDENTIALS.cc,
        rotating: CREDENTIALS.rotating,
        'cc-ddb': CREDENTIALS.cc,
        'rotating-ddb': CREDENTIALS.rotating,
      },
      PROVIDERS.filter(({ store }) => store === 'dynamodb').map(({ name }) => name),
    );
  });

  afterAll(async () => {
    await parts?.stop();
  });

  /** Twenty containers, built once and reused every round (warm Lambdas). */
  const containers = (): RefreshHandler[] =>
    Array.from({ length: TRIGGERS }, () =>
      refreshHandlerFromEnvironment(refreshEnvironment(providers()), {
        clientConfig: { ...parts.moto.clientConfig },
        clock,
      }),
    );

  it.each(PROVIDERS.map(({ name, store }) => [name, store] as const))(
    'provider %s (token in %s): exactly one token request per round, and every round ends with a newer token',
    async (provider, store) => {
      // Prepare
      const handlers = containers();
      const view = inspect(parts.moto.clientConfig, store);
      let previous = await view.token(provider);
      const perRound: { calls: number; refreshed: number; fresh: boolean }[] = [];

      // Act
      for (let round = 0; round < ROUNDS; round += 1) {
        // Past the due time of the current token (1 h tokens, refreshed 5 min before expiry).
        if (round > 0) clock.advance(56 * MINUTE);
        const before = parts.oauth.tokenRequests.total;
        const results = (await Promise.all(
          handlers.map((handler) =>
            handler({ provider }, { awsRequestId: randomUUID(), getRemainingTimeInMillis: () => 30_000 }),
          ),
        )) as RefreshResult[];
        const calls = parts.oauth.tokenRequests.total - before;
        const token = await view.token(provider);
        const fresh =
          token !== undefined &&
          Date.parse(token.expiresAt) > clock.now() &&
          (previous === undefined ||
            (token.generation > previous.generation &&
              token.accessToken !== previous.accessToken &&
              Date.parse(token.expiresAt) > Date.parse(previous.expiresAt)));
        perRound.push({
          calls,
          refreshed: results.filter((result) => result.status === 'refreshed').length,
          fresh,
        });
        previous = token;
        // Keep the server's issued-token log small: register the values for the leak scan, then reset.
        parts.secrets.addIssued(parts.oauth);
        if (reuseDetections(parts.oauth) > 0) break; // a revoked grant ends the drill (asserted below)
        parts.oauth.resetCounters();
      }

      // Assess
      const duplicates = perRound.reduce((sum, round) => sum + Math.max(0, round.calls - 1), 0);
      const withoutFresh = perRound.filter((round) => !round.fresh || round.calls === 0).length;
      totals.rounds += perRound.length;
      totals.triggers += perRound.length * TRIGGERS;
      totals.providerCalls += perRound.reduce((sum, round) => sum + round.calls, 0);
      totals.duplicates += duplicates;
      totals.roundsWithoutFreshToken += withoutFresh;
      reportDrill(`contention provider=${provider} store=${store}`, {
        rounds: perRound.length,
        triggersPerRound: TRIGGERS,
        providerCalls: perRound.reduce((sum, round) => sum + round.calls, 0),
        duplicateCalls: duplicates,
        roundsWithoutFreshToken: withoutFresh,
        reuseDetections: reuseDetections(parts.oauth),
      });
      expect(perRound).toHaveLength(ROUNDS);
      expect(duplicates).toBe(0);
      expect(withoutFresh).toBe(0);
      expect(perRound.every((round) => round.refreshed === 1)).toBe(true);
      expect(reuseDetections(parts.oauth)).toBe(0);
    },
  );

  it('never logged or emitted a token, refresh token or client secret (runs last)', () => {
    // Prepare
    parts.secrets.addIssued(parts.oauth);

    // Act
    const { scanned, leaked } = parts.secrets.scan(parts.output.text());

    // Assess
    reportDrill('contention secrets-in-logs', {
      ...totals,
      valuesScanned: scanned,
      outputBytes: parts.output.text().length,
      hits: leaked.length,
    });
    expect(scanned).toBeGreaterThan(ROUNDS);
    expect(leaked).toEqual([]);
  });
});
