/**
 * Issue 11: `token-refresher refresh <provider>` in local mode builds its own refresh handler, without
 * `npm start`'s scheduler. The running scheduler follows the state table, so its precise run moves
 * to the new due time; before, it stayed at the old one, found the token not due, and the token
 * lapsed until the next recurring tick (29.5 s expired in the report).
 *
 * Real parts: `startLocal` (moto server, the demo oidc-provider, the local scheduler driving the
 * refresh handler) and the CLI's `run()` in the same working directory, as an operator runs it.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { DynamoDbStateTable } from '../../functions/aws/state-table.js';
import { run } from '../../functions/cli/main.js';
import type { ProviderState } from '../../functions/core/types.js';
import { LOCAL_AWS_CREDENTIALS } from '../../functions/local/session.js';
import { type LocalService, startLocal } from '../../functions/local/start.js';

/** Demo tokens live 30 s, so they are refreshed 15 s before expiry (half the lifetime). */
const TOKEN_TTL_SECONDS = 30;
const PROVIDER = 'demo-client-credentials';
/**
 * A run this much before the due time may count as due (the engine's early-run tolerance, issue 11):
 * the CLI refresh must move the due time further than this, or the old precise run would refresh anyway.
 */
const EARLY_RUN_TOLERANCE_MS = 5_000;

/** The "next run" of the provider's row in a status frame ("in 14s"), in seconds. */
function nextRunIn(frame: string): number | undefined {
  const row = frame.split('\n').find((line) => line.startsWith(`${PROVIDER} `));
  const cell = row?.split(/\s{2,}/)[6];
  const match = cell === undefined ? null : /^in (\d+)s$/.exec(cell);
  return match === null ? undefined : Number(match[1]);
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('npm start follows a refresh made by the CLI', () => {
  let service: LocalService | undefined;

  afterEach(async () => {
    await service?.stop();
    service = undefined;
  });

  it('moves the precise run to the due time the CLI refresh stored, and the token never lapses', async () => {
    // Prepare: the service, and its first token (generation 1) from the recurring run at start.
    const cwd = mkdtempSync(join(tmpdir(), 'local-follow-'));
    // A TTY: the status view redraws its table (with the scheduler's next run) every second.
    const frames: { readonly at: number; readonly text: string }[] = [];
    const out = Object.assign(
      new Writable({
        write(chunk, _encoding, callback) {
          frames.push({ at: Date.now(), text: String(chunk) });
          callback();
        },
      }),
      { isTTY: true },
    );
    service = await startLocal({ cwd, port: 0, demoTokenTtlSeconds: TOKEN_TTL_SECONDS, out, tty: true });
    const { session } = service;
    const table = new DynamoDbStateTable({
      clientConfig: {
        endpoint: session.awsEndpoint,
        region: session.region,
        credentials: LOCAL_AWS_CREDENTIALS,
      },
      tableName: session.tableName,
    });
    const first = await until(
      'the first token',
      async () => {
        const state = await table.read(PROVIDER);
        return state?.lastSuccessAt !== undefined && state.nextRefreshAt !== undefined ? state : undefined;
      },
      20_000,
    );
    // Late enough that the new due time is beyond the early-run tolerance of the old precise run.
    await new Promise((resolve) =>
      setTimeout(resolve, Math.max(0, (first.lastSuccessAt ?? 0) + 8_000 - Date.now())),
    );

    // Act: the operator's refresh, through the CLI in the service's directory.
    let cliOut = '';
    const code = await run(['refresh', PROVIDER], {
      cwd,
      stdout: { write: (text: string) => (cliOut += text) },
      stderr: { write: () => true },
      env: {},
    });
    const cliDoneAt = Date.now();
    const afterCli = (await table.read(PROVIDER)) as ProviderState;
    const third = await until(
      'the next refresh after the CLI one',
      async () => {
        // A success after the CLI's (a state with a newer fence may still be a refresh under way).
        const state = await table.read(PROVIDER);
        return (state?.lastSuccessAt ?? 0) > (afterCli.lastSuccessAt ?? 0) ? state : undefined;
      },
      TOKEN_TTL_SECONDS * 1000,
    );

    // Assess: the CLI refreshed (generation 2) and moved the due time past the old precise run.
    expect(code).toBe(0);
    expect(cliOut).toContain('refreshed');
    expect(afterCli.fence).toBe(first.fence + 1);
    const oldRun = first.nextRefreshAt as number;
    const newRun = afterCli.nextRefreshAt as number;
    expect(newRun - EARLY_RUN_TOLERANCE_MS).toBeGreaterThan(oldRun);

    // Assess: within two intervals of the CLI refresh, and before the old precise run would have fired
    // (the engine re-arms from there too), the scheduler's next run shown is the new due time.
    const shown = frames.find((frame) => frame.at > cliDoneAt + 2_000 && nextRunIn(frame.text) !== undefined);
    expect(shown).toBeDefined();
    expect(shown?.at).toBeLessThan(oldRun - 1_000);
    const expectedSeconds = Math.round((newRun - (shown?.at ?? 0)) / 1000);
    expect(Math.abs((nextRunIn(shown?.text ?? '') ?? 0) - expectedSeconds)).toBeLessThanOrEqual(1);

    // Assess: the next refresh was the scheduler's precise run, at the new due time (not at the old
    // one, and not the recurring tick a minute after start), before generation 2 expired.
    const refreshedAt = third.lastSuccessAt as number;
    expect(refreshedAt).toBeGreaterThanOrEqual(newRun - EARLY_RUN_TOLERANCE_MS);
    expect(refreshedAt).toBeLessThan(newRun + 3_000);
    expect(refreshedAt).toBeLessThan(afterCli.tokenExpiresAt as number);
    // The event reaches the screen at the next redraw.
    const event = new RegExp(`${PROVIDER}: refreshed \\(generation ${third.fence}, [^\\n]*\\[precise\\]`);
    await until(
      'the precise refresh in the status view',
      async () => (event.test(frames.map((frame) => frame.text).join('')) ? true : undefined),
      3_000,
    );
  }, 60_000);
});
