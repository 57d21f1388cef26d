/**
 * The emulator side of the contract tests: one moto server per test file (through the project's
 * serialising launcher, see `test/support/moto.ts`), wiped before each case.
 */
import { afterAll, beforeAll } from 'vitest';
import { type MotoServer, startMoto } from '../support/moto.js';

/** A handle on the file's moto server, valid from `beforeAll` on. */
export interface ContractMoto {
  /** The running server. */
  readonly server: MotoServer;
  /**
   * Wipe all emulated state (`POST /moto-api/reset`) and return the SDK client config for a case:
   * one attempt per call, so a case sees the adapter's own handling, not the SDK's retries.
   */
  fresh(): Promise<MotoServer['clientConfig'] & { readonly maxAttempts: 1 }>;
}

/** Start moto for this file (stopped after it); call at the top of the file. */
export function useMoto(): ContractMoto {
  let server: MotoServer | undefined;
  beforeAll(async () => {
    server = await startMoto();
  });
  afterAll(async () => {
    await server?.stop();
  });
  const running = (): MotoServer => {
    if (server === undefined) throw new Error('moto is not started yet (use it inside a test or hook)');
    return server;
  };
  return {
    get server() {
      return running();
    },
    async fresh() {
      await running().reset();
      return { ...running().clientConfig, maxAttempts: 1 };
    },
  };
}
