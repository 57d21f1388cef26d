/**
 * The running local service (`npm start`) describes itself in `.token-refresher/local.json` in the
 * working directory, so that the operator CLI finds the emulator, the table and the configuration
 * without flags while it runs. The file is removed on a clean stop; a file whose process is gone is
 * ignored.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** Where the session file lives, relative to the working directory. */
export const LOCAL_SESSION_FILE = join('.token-refresher', 'local.json');

export interface LocalSession {
  /** The local runner's process id. */
  readonly pid: number;
  /** The AWS emulator (moto server) base URL, e.g. `http://127.0.0.1:41234`. */
  readonly awsEndpoint: string;
  readonly region: string;
  /** The state/lock table on the emulator. */
  readonly tableName: string;
  readonly secretPrefix: string;
  /** Absolute path of the configuration JSON the runner uses (the demo one is written out). */
  readonly configFile: string;
  /** The local Function-URL-shaped read endpoint, e.g. `http://127.0.0.1:8787/`. */
  readonly readUrl: string;
  /** The demo OAuth server's issuer, when the demo providers run. */
  readonly oauthIssuer?: string;
  /** ISO-8601. */
  readonly startedAt: string;
}

/**
 * The DynamoDB token store's table on the emulator (providers with `tokenStore: "dynamodb"`), named
 * after the state table, so that the CLI finds it from the session's `tableName`.
 */
export function localTokenTableName(tableName: string): string {
  return `${tableName}-tokens`;
}

/** The emulator's fixed test credentials (moto accepts any). */
export const LOCAL_AWS_CREDENTIALS = { accessKeyId: 'testing', secretAccessKey: 'testing' } as const;

export function writeLocalSession(session: LocalSession, cwd = process.cwd()): string {
  const path = join(cwd, LOCAL_SESSION_FILE);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify(session, null, 2)}\n`, { mode: 0o600 });
  return path;
}

export function removeLocalSession(cwd = process.cwd()): void {
  rmSync(join(cwd, LOCAL_SESSION_FILE), { force: true });
}

/** The session of a local runner that is still alive, or `undefined`. */
export function readLocalSession(cwd = process.cwd()): LocalSession | undefined {
  let session: LocalSession;
  try {
    session = JSON.parse(readFileSync(join(cwd, LOCAL_SESSION_FILE), 'utf8')) as LocalSession;
  } catch {
    return undefined;
  }
  if (typeof session.pid !== 'number' || typeof session.awsEndpoint !== 'string') return undefined;
  try {
    process.kill(session.pid, 0); // signal 0: only checks that the process exists
  } catch {
    return undefined;
  }
  return session;
}
