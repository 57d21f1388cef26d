/**
 * Drill 11, warm containers (issue 17). A warm container skips the token read when the state item
 * shows the stored token (`functions/core/stored-state.ts`) and uses the credentials it cached when
 * the item records their version (`functions/core/credentials-cache.ts`). This drill checks that the
 * savings keep the protocol's guarantees, against moto and the strict rotating token endpoint
 * (`test/support/strict-oauth-server.ts`: every refresh rotates at arrival, a replayed refresh token
 * revokes its whole family). Each "container" is its own `RefreshEngine` with its own adapters, SDK
 * clients and cache; they share moto and the server.
 *
 * - **Rotation across containers**: generations of refreshes, each triggered on a seeded random subset
 *   of 4 containers at once: one rotation per generation, no replay, the secret holds the family's
 *   newest refresh token. Each container's reads of the credentials secret are counted.
 * - **Crash with warm caches**: a cold container is killed inside the refresh-token write (after
 *   `PutSecretValue`) or after the token's stage move, the warm container that refreshed before
 *   recovers at the first tick after the lease: it must finish the pending write (not use its cached,
 *   now spent refresh token) or find the token (no provider call).
 * - **Operator's credentials**: a new family's refresh token put out of band while a container holds
 *   the old one: told by the credentials-change event, forced by the operator, not told at all (the
 *   cached refresh token still works: its rotated write loses to the operator's version, which stays),
 *   and after the old family was revoked (`invalid_grant`, read again, called once more with the new
 *   version; never with the refused refresh token).
 * - **Token secret overwritten out of band** (not servable): the compare-and-swap from the version the
 *   state item records fails, and the run writes again from the version it then reads.
 */
import { PutSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSecretsManagerClient } from '../../functions/aws/secrets.js';
import type { ProviderConfig } from '../../functions/core/config.js';
import type { RefreshEngine } from '../../functions/core/engine.js';
import { credentialsSecretName, tokenSecretName } from '../../functions/core/names.js';
import type { Credentials, RefreshResult } from '../../functions/core/types.js';
import type { StrictClient } from '../support/strict-oauth-server.js';
import {
  DrillClock,
  engineFrom,
  inspect,
  iterations,
  MINUTE,
  MODE,
  PREFIX,
  type RealPorts,
  realPorts,
  reportDrill,
  resetStrictWorld,
  type StrictDrillParts,
  startStrictDrillParts,
  validatedProviders,
} from './support.js';

const PROVIDER = 'rotating';
const CLIENT: StrictClient = {
  clientId: 'drill-warm',
  clientSecret: 'drill-warm-secret-5e1c9a37',
  authMethod: 'client_secret_basic',
};
/** The lease a holder takes (the remaining time it is told it has). */
const LEASE_MS = 30_000;
/** Past a 1-hour token's refresh time (5 min before its expiry). */
const DUE = 56 * MINUTE;
const CONTAINERS = 4;
const GENERATIONS = iterations(20, 500);

/** One container: an engine with its own adapters, and its reads of the credentials secret. */
interface Container {
  readonly engine: RefreshEngine;
  readonly ports: RealPorts;
  credentialsReads: number;
}

describe(`Drill: warm containers, credentials cache and state-only double-check (${MODE} mode)`, () => {
  let parts: StrictDrillParts;
  let config: ProviderConfig;
  const clock = new DrillClock();
  const figures: Record<string, number> = {};

  beforeAll(async () => {
    parts = await startStrictDrillParts({ clients: [CLIENT] });
    const [entry] = validatedProviders([
      { name: PROVIDER, grant: 'refresh_token', tokenUrl: parts.strict.tokenUrl, requestTimeout: 5 },
    ]);
    if (entry === undefined) throw new Error('one provider expected');
    config = entry;
  });

  afterAll(async () => {
    await parts?.stop();
  });

  /** A new container; `hangAfter` kills its invocation after that Secrets Manager call succeeds. */
  const container = (hangAfter?: { command: string; suffix: string; reached: () => void }): Container => {
    const ports = realPorts(parts.moto.clientConfig, clock);
    const made: Container = { engine: engineFrom(ports, clock), ports, credentialsReads: 0 };
    ports.secretsClient.middlewareStack.add(
      (next, context) => async (args) => {
        const secretId = (args.input as { SecretId?: string }).SecretId ?? '';
        if (context.commandName === 'GetSecretValueCommand' && secretId.endsWith('/credentials')) {
          made.credentialsReads += 1;
        }
        const output = await next(args);
        if (
          hangAfter !== undefined &&
          context.commandName === hangAfter.command &&
          secretId.endsWith(hangAfter.suffix)
        ) {
          hangAfter.reached();
          return new Promise<never>(() => {}); // a killed Lambda: nothing after this runs
        }
        return output;
      },
      { step: 'initialize', name: 'drillWarmContainer' },
    );
    return made;
  };

  const invoke = async (
    target: Container,
    input: { readonly force?: boolean; readonly credentialsChanged?: boolean } = {},
  ): Promise<RefreshResult> => {
    const result = await target.engine.refresh({ config, remainingTimeMs: LEASE_MS, ...input });
    target.ports.metrics.publish();
    return result;
  };

  /** A fresh world: a new family seeded; returns its first refresh token. */
  const reset = async (): Promise<string> => {
    const resolved = await resetStrictWorld(parts, {
      [PROVIDER]: { clientId: CLIENT.clientId, clientSecret: CLIENT.clientSecret, refreshToken: 'seed' },
    });
    const seeded = resolved[PROVIDER]?.refreshToken;
    if (seeded === undefined) throw new Error('no seeded refresh token');
    parts.secrets.add(seeded);
    return seeded;
  };

  /** An operator's `put-secret-value` of new credentials (becomes AWSCURRENT at once). */
  const operatorPut = async (credentials: Credentials): Promise<void> => {
    await createSecretsManagerClient(parts.moto.clientConfig).send(
      new PutSecretValueCommand({
        SecretId: credentialsSecretName(PREFIX, PROVIDER),
        SecretString: JSON.stringify(credentials),
      }),
    );
  };

  /** A new family, as an operator re-seeding after a new authorization; returns its refresh token. */
  const newFamily = (): string => {
    const refreshToken = parts.strict.seedFamily(CLIENT.clientId);
    parts.secrets.add(refreshToken);
    return refreshToken;
  };

  const storedRefreshToken = () => inspect(parts.moto.clientConfig).refreshToken(PROVIDER);
  const familyOf = (refreshToken: string | undefined) =>
    refreshToken === undefined ? undefined : parts.strict.familyOf(refreshToken);
  const requests = () => parts.strict.counters.tokenRequests;

  /** Make `target` the warm container: it refreshes (the last one to), so it caches the current version. */
  const warmUp = async (target: Container): Promise<void> => {
    clock.advance(DUE);
    const result = await invoke(target);
    if (result.status !== 'refreshed') throw new Error(`warm-up ended ${JSON.stringify(result)}`);
  };

  it(`rotation across ${CONTAINERS} containers: one rotation per generation, no replay, the newest refresh token stored`, async () => {
    // Prepare
    const seeded = await reset();
    const containers = Array.from({ length: CONTAINERS }, () => container());
    let seed = 0x5eed17;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const perGeneration: { rotations: number; refreshed: number }[] = [];

    // Act
    for (let generation = 0; generation < GENERATIONS; generation += 1) {
      clock.advance(DUE);
      const chosen = containers.filter(() => random() < 0.5);
      const triggered =
        chosen.length === 0 ? [containers[Math.floor(random() * CONTAINERS)] as Container] : chosen;
      const rotationsBefore = parts.strict.counters.rotations;
      const results = await Promise.all(triggered.map((each) => invoke(each)));
      perGeneration.push({
        rotations: parts.strict.counters.rotations - rotationsBefore,
        refreshed: results.filter((result) => result.status === 'refreshed').length,
      });
    }

    // Assess
    const stored = await storedRefreshToken();
    const family = familyOf(seeded);
    const credentialsReads = containers.reduce((sum, each) => sum + each.credentialsReads, 0);
    Object.assign(figures, { generations: GENERATIONS, credentialsReads });
    reportDrill('warm-containers rotation', {
      containers: CONTAINERS,
      generations: GENERATIONS,
      rotations: parts.strict.counters.rotations,
      credentialsReads,
      cacheHits: GENERATIONS - credentialsReads,
      reuseDetections: parts.strict.counters.reuseDetections,
    });
    expect(perGeneration.every((each) => each.rotations === 1 && each.refreshed === 1)).toBe(true);
    expect(parts.strict.counters.reuseDetections).toBe(0);
    expect(family?.revoked).toBe(false);
    expect(stored).toBe(family?.latestRefreshToken);
    expect(credentialsReads).toBeLessThan(GENERATIONS); // the cache was used
  });

  it.each([
    ['inside the refresh-token write (after PutSecretValue)', 'PutSecretValueCommand', '/credentials', 1],
    ['after the token stage move', 'UpdateSecretVersionStageCommand', '/token', 0],
  ] as const)(
    'a crash %s: the warm container recovers from the stores, not from its cache',
    async (_step, command, suffix, recoveryCalls) => {
      // Prepare
      const seeded = await reset();
      const warm = container();
      await warmUp(warm);
      clock.advance(DUE);
      let reached = false;
      const dying = container({ command, suffix, reached: () => (reached = true) });
      void invoke(dying); // never settles
      while (!reached) await new Promise((resolve) => setTimeout(resolve, 5));
      clock.advance(10_000);
      const blocked = await invoke(warm);
      const before = requests();

      // Act
      clock.advance(MINUTE); // the first tick after the 30 s lease
      const recovered = await invoke(warm);

      // Assess
      const stored = await storedRefreshToken();
      expect(blocked.status).toBe('in-progress');
      expect(recovered.status).toBe(recoveryCalls === 0 ? 'fresh' : 'refreshed');
      expect(requests() - before).toBe(recoveryCalls);
      expect(parts.strict.counters.reuseDetections).toBe(0);
      expect(familyOf(seeded)?.revoked).toBe(false);
      expect(stored).toBe(familyOf(seeded)?.latestRefreshToken);
      expect((await inspect(parts.moto.clientConfig).token(PROVIDER))?.expiresAt).toBeDefined();
    },
  );

  it.each([
    ['the credentials-change event', { credentialsChanged: true }],
    ["the operator's forced refresh", { force: true }],
  ] as const)(
    'new credentials put by an operator, then %s: the warm container uses them at once',
    async (_how, input) => {
      // Prepare
      const seeded = await reset();
      const warm = container();
      await warmUp(warm);
      const oldFamilyIssued = familyOf(seeded)?.issued;
      const reseeded = newFamily();
      await operatorPut({
        clientId: CLIENT.clientId,
        clientSecret: CLIENT.clientSecret,
        refreshToken: reseeded,
      });
      clock.advance(MINUTE); // not due

      // Act
      const told = await invoke(warm, input);
      clock.advance(DUE);
      const next = await invoke(container());

      // Assess
      expect(told.status).toBe('refreshed');
      expect(next.status).toBe('refreshed');
      expect(familyOf(seeded)?.issued).toBe(oldFamilyIssued); // the old family was not used again
      expect(await storedRefreshToken()).toBe(familyOf(reseeded)?.latestRefreshToken);
      expect(parts.strict.counters.reuseDetections).toBe(0);
    },
  );

  it("new credentials put by an operator without telling: the warm container's rotated write loses, the operator's version stays and is used next", async () => {
    // Prepare
    await reset();
    const warm = container();
    await warmUp(warm);
    const reseeded = newFamily();
    await operatorPut({
      clientId: CLIENT.clientId,
      clientSecret: CLIENT.clientSecret,
      refreshToken: reseeded,
    });
    clock.advance(DUE);

    // Act
    const first = await invoke(warm);
    const afterFirst = await storedRefreshToken();
    clock.advance(MINUTE); // past the backoff (at most half the validity left, 30 s at the first failure)
    const second = await invoke(warm);

    // Assess
    expect(first).toMatchObject({ status: 'failed', code: 'write_conflict', permanent: false });
    expect(afterFirst).toBe(reseeded);
    expect(second.status).toBe('refreshed');
    expect(await storedRefreshToken()).toBe(familyOf(reseeded)?.latestRefreshToken);
    expect(parts.strict.counters.reuseDetections).toBe(0);
  });

  it('a revoked family and an operator re-seed, untold: invalid_grant, read again, one more call with the new version', async () => {
    // Prepare: someone replays the spent first refresh token; the server revokes the family.
    const seeded = await reset();
    const warm = container();
    await warmUp(warm);
    await replay(parts.strict.tokenUrl, seeded);
    const reseeded = newFamily();
    await operatorPut({
      clientId: CLIENT.clientId,
      clientSecret: CLIENT.clientSecret,
      refreshToken: reseeded,
    });
    clock.advance(DUE);
    const before = requests();

    // Act
    const result = await invoke(warm);

    // Assess
    expect(result.status).toBe('refreshed');
    expect(requests() - before).toBe(2);
    expect(parts.strict.counters.reuseDetections).toBe(1); // the replay above, none by the refresher
    expect(await storedRefreshToken()).toBe(familyOf(reseeded)?.latestRefreshToken);
  });

  it('a revoked family, and an operator edit that keeps its refresh token: the refusal stands, the refresh token is not sent again', async () => {
    // Prepare
    const seeded = await reset();
    const warm = container();
    await warmUp(warm);
    await replay(parts.strict.tokenUrl, seeded);
    const kept = await storedRefreshToken();
    await operatorPut({
      clientId: CLIENT.clientId,
      clientSecret: CLIENT.clientSecret,
      refreshToken: kept,
      note: 'edited',
    });
    clock.advance(DUE);
    const before = requests();

    // Act
    const result = await invoke(warm);

    // Assess
    expect(result).toMatchObject({ status: 'failed', code: 'invalid_grant', permanent: true });
    expect(requests() - before).toBe(1);
  });

  it('a token secret overwritten out of band with no servable token: the warm run writes over it from the stored version', async () => {
    // Prepare: the item records the last token's version; the secret now holds a placeholder.
    await reset();
    const warm = container();
    await warmUp(warm);
    await createSecretsManagerClient(parts.moto.clientConfig).send(
      new PutSecretValueCommand({
        SecretId: tokenSecretName(PREFIX, PROVIDER),
        SecretString: JSON.stringify({ status: 'pending' }),
      }),
    );
    clock.advance(DUE);

    // Act
    const result = await invoke(warm);

    // Assess
    const stored = await inspect(parts.moto.clientConfig).token(PROVIDER);
    expect(result.status).toBe('refreshed');
    expect(stored !== undefined && Date.parse(stored.expiresAt) > clock.now()).toBe(true);
    expect(parts.strict.counters.reuseDetections).toBe(0);
  });

  it('never logged or emitted a token, refresh token or client secret (runs last)', () => {
    // Prepare
    parts.secrets.add(...parts.strict.issuedTokens);

    // Act
    const { scanned, leaked } = parts.secrets.scan(parts.output.text());

    // Assess
    reportDrill('warm-containers secrets-in-logs', {
      ...figures,
      valuesScanned: scanned,
      hits: leaked.length,
    });
    expect(scanned).toBeGreaterThan(GENERATIONS);
    expect(leaked).toEqual([]);
  });
});

/** A replay of a spent refresh token from outside the refresher (the strict server revokes the family). */
async function replay(tokenUrl: string, refreshToken: string): Promise<void> {
  const basic = Buffer.from(`${CLIENT.clientId}:${CLIENT.clientSecret}`).toString('base64');
  const response = await fetch(tokenUrl, {
    method: 'POST',
    headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken }).toString(),
  });
  await response.arrayBuffer();
  if (response.status !== 400) throw new Error(`the replay answered ${response.status}, expected 400`);
}
