/**
 * Integration-test harness for a private moto server (AWS emulator) per test file.
 *
 * Each call to {@link startMoto} spawns its own `moto_server` on a free 127.0.0.1 port, so test files can run
 * in parallel without sharing state. Requests are counted on the emulator's side with moto's built-in
 * request recorder (see {@link MotoServer.countOperations}).
 *
 * @module
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { EmulatorClientConfig } from '../aws/client-config.js';
import { LOCAL_AWS_CREDENTIALS } from './session.js';

/**
 * AWS SDK v3 client configuration pointing at a moto server (spread it into any `new XxxClient(...)`):
 * {@link EmulatorClientConfig}, under the name the tests and the bench import it by.
 */
export type AwsClientConfig = EmulatorClientConfig;

/** Options for {@link startMoto}. */
export interface StartMotoOptions {
  /** How long to wait for the server to answer HTTP before giving up. Default 20 000 ms. */
  startupTimeoutMs?: number;
  /**
   * Keep the emulated secrets and tables in this JSON file: read at start, rewritten after every
   * request that may change them (`serialized_moto.py --state-file`). The file is mode 0600 and its
   * directory 0700; it holds secret values. {@link startMoto} fails when the file exists but cannot be
   * read back (it is never overwritten then), and when only plain `moto_server` can run.
   */
  stateFile?: string;
}

/** Result of {@link MotoServer.resetAuth}. */
export interface ResetAuthResult {
  /** The `INITIAL_NO_AUTH_ACTION_COUNT` that was in effect before the call (`Infinity` = auth disabled). */
  previousInitialNoAuthActionCount: number;
}

/** A running moto server owned by the current test file. */
export interface MotoServer {
  /** Base URL, e.g. `http://127.0.0.1:41234`. */
  readonly endpoint: string;
  /** TCP port the server listens on. */
  readonly port: number;
  /**
   * `serialised`: through `serialized_moto.py` (one request at a time, Secrets Manager staging labels as
   * on AWS, optional state file); `plain`: bare `moto_server`, when no Python next to it can import moto.
   */
  readonly launcher: 'serialised' | 'plain';
  /** Whether emulated state was read back from {@link StartMotoOptions.stateFile}. */
  readonly restoredState: boolean;
  /** AWS SDK v3 client config: `{ endpoint, region: 'us-east-1', credentials: testing/testing }`. */
  readonly clientConfig: AwsClientConfig;
  /**
   * Environment variables that point an AWS SDK v3 client created without explicit config at this server
   * (`AWS_ENDPOINT_URL`, `AWS_REGION`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, ...).
   */
  readonly env: Readonly<Record<string, string>>;
  /** Wipes all emulated AWS state (`POST /moto-api/reset`). Does not touch the request recording. */
  reset(): Promise<void>;
  /**
   * Clears the request recording and starts recording (`/moto-api/recorder/reset-recording` +
   * `/moto-api/recorder/start-recording`). Call it right before the code under test runs.
   */
  startCounting(): Promise<void>;
  /** Stops recording; {@link MotoServer.countOperations} keeps returning what was recorded so far. */
  stopCounting(): Promise<void>;
  /**
   * Number of requests moto received since the last {@link MotoServer.startCounting}, keyed by the
   * `X-Amz-Target` header (e.g. `secretsmanager.GetSecretValue`, `DynamoDB_20120810.UpdateItem`).
   *
   * Counted on the emulator's side, so SDK retries are counted individually and requests that moto
   * rejected (bad signature, IAM denial, validation error) are counted too. Requests without an
   * `X-Amz-Target` header (REST/query protocols) are keyed as `"<METHOD> <path>"`; `/moto-api/*` calls
   * made by this harness are never counted.
   */
  countOperations(): Promise<Record<string, number>>;
  /**
   * Turns on moto's IAM authentication/authorization checks for later tests (`POST /moto-api/reset-auth`).
   *
   * moto lets the first `initialNoAuthActionCount` authorizable requests through unchecked (use them to
   * create IAM users, policies and access keys), then verifies the SigV4 signature against moto's IAM
   * access keys and evaluates the caller's IAM policies for every later request, answering e.g.
   * `AccessDeniedException`. The request counter restarts at 0 on every call. Pass
   * `Number.POSITIVE_INFINITY` to switch checks off again (moto's default). The setting is global to this
   * moto process and survives {@link MotoServer.reset}.
   *
   * @param initialNoAuthActionCount - number of requests to allow before enforcing IAM.
   */
  resetAuth(initialNoAuthActionCount: number): Promise<ResetAuthResult>;
  /** Terminates the server (whole process group) and waits until it has exited. Idempotent. */
  stop(): Promise<void>;
}

const HOST = '127.0.0.1';
const REGION = 'us-east-1';
const NOT_INSTALLED_EXIT_CODE = 127;
/** The launcher's exit code when a state file was asked for but only plain moto_server can run. */
const NO_LAUNCHER_EXIT_CODE = 125;
/** serialized_moto.py's exit code when the state file exists but cannot be read back. */
const STATE_FILE_EXIT_CODE = 3;
const PLAIN_WARNING =
  'warning: no Python next to moto_server can import moto; running moto_server unserialised';
const MAX_START_ATTEMPTS = 3;
const OUTPUT_TAIL_CHARS = 8_192;

/**
 * Runs moto_server in the background and watches the pipe on fd 0: when the Node process goes away for any
 * reason (even SIGKILL) the pipe reaches EOF and the watchdog kills moto, so no orphan survives a crashed
 * test worker. The shell's exit code is moto's exit code (127 if moto_server is not on PATH).
 */
const LAUNCHER_SCRIPT = `
exec 3<&0
command -v moto_server >/dev/null 2>&1 || exit ${NOT_INSTALLED_EXIT_CODE}
# Prefer the launcher (atomic conditional writes and staging labels as on AWS, state file) with a Python
# that can import moto: moto_server's own interpreter (its #! line; a pipx install has no other), else
# python3.
python=
interpreter=$(sed -n '1s/^#![[:space:]]*//p' "$(command -v moto_server)" 2>/dev/null)
case "$interpreter" in *python*) ;; *) interpreter= ;; esac
for candidate in "$interpreter" python3; do
  if [ -n "$candidate" ] && $candidate -c 'import moto.server' >/dev/null 2>&1; then
    python=$candidate
    break
  fi
done
if [ -n "$python" ]; then
  if [ -n "$3" ]; then
    $python "$2" -H ${HOST} -p "$1" --state-file "$3" </dev/null &
  else
    $python "$2" -H ${HOST} -p "$1" </dev/null &
  fi
elif [ -n "$3" ]; then
  echo "error: no Python next to moto_server can import moto, so the emulator state cannot be kept" >&2
  exit ${NO_LAUNCHER_EXIT_CODE}
else
  echo "${PLAIN_WARNING}" >&2
  moto_server -H ${HOST} -p "$1" </dev/null &
fi
moto=$!
( read -r _ <&3; kill -TERM "$moto" 2>/dev/null ) </dev/null >/dev/null 2>&1 &
watchdog=$!
wait "$moto"
code=$?
kill "$watchdog" 2>/dev/null
exit "$code"
`;

/** moto_server with its requests serialised: see the module's docstring for why. */
const SERIALISED_LAUNCHER = fileURLToPath(new URL('./serialized_moto.py', import.meta.url));

const TARGET_PATTERN = /"x-amz-target":\s*"([^"]+)"/gi;

/**
 * Starts a private moto server on a free 127.0.0.1 port and waits until it answers HTTP.
 *
 * @throws Error if `moto_server` is not on PATH (with the `pip install "moto[server]"` hint), if it exits
 *   during startup, or if it does not answer within `startupTimeoutMs`.
 */
export async function startMoto(options: StartMotoOptions = {}): Promise<MotoServer> {
  const timeoutMs = options.startupTimeoutMs ?? 20_000;
  const stateFile = options.stateFile === undefined ? undefined : resolve(options.stateFile);
  const restoredState = stateFile !== undefined && existsSync(stateFile);
  const workDir = await mkdtemp(join(tmpdir(), 'moto-harness-'));
  const recordingPath = join(workDir, 'recording.jsonl');
  // moto's download-recording fails with HTTP 500 until the file exists.
  await writeFile(recordingPath, '');

  try {
    for (let attempt = 1; ; attempt++) {
      const port = await findFreePort();
      try {
        const launched = await launch(port, recordingPath, timeoutMs, stateFile);
        return createHandle(launched, port, workDir, restoredState);
      } catch (error) {
        // Another process may have grabbed the port between our probe and moto's bind: retry.
        if (attempt < MAX_START_ATTEMPTS && error instanceof PortInUseError) continue;
        throw error;
      }
    }
  } catch (error) {
    await rm(workDir, { recursive: true, force: true });
    throw error;
  }
}

class PortInUseError extends Error {}

interface LaunchedProcess {
  child: ChildProcess;
  launcher: 'serialised' | 'plain';
  closed: Promise<void>;
  killGroup: (signal: NodeJS.Signals) => void;
  onProcessExit: () => void;
}

async function launch(
  port: number,
  recordingPath: string,
  timeoutMs: number,
  stateFile: string | undefined,
): Promise<LaunchedProcess> {
  const args = [String(port), SERIALISED_LAUNCHER, stateFile ?? ''];
  const child = spawn('sh', ['-c', LAUNCHER_SCRIPT, 'moto-launcher', ...args], {
    // Own process group, so stop() can signal moto, the shell and the watchdog at once.
    detached: true,
    stdio: ['pipe', 'pipe', 'pipe'],
    env: {
      ...process.env,
      MOTO_RECORDER_FILEPATH: recordingPath,
      MOTO_ENABLE_RECORDING: '',
      PYTHONUNBUFFERED: '1',
    },
  });

  let outputTail = '';
  const collect = (chunk: Buffer): void => {
    outputTail = (outputTail + chunk.toString('utf8')).slice(-OUTPUT_TAIL_CHARS);
  };
  // Always drain the pipes: werkzeug logs every request and would block once the pipe buffer is full.
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);

  let exitCode: number | null | undefined;
  let spawnError: Error | undefined;
  const closed = new Promise<void>((resolve) => {
    child.once('close', (code) => {
      exitCode = code;
      resolve();
    });
    child.once('error', (error) => {
      spawnError = error;
      resolve();
    });
  });

  const killGroup = (signal: NodeJS.Signals): void => {
    if (child.pid === undefined || !processGroupExists(child.pid)) return;
    try {
      process.kill(-child.pid, signal);
    } catch {
      // Already gone.
    }
  };
  const onProcessExit = (): void => killGroup('SIGKILL');
  process.once('exit', onProcessExit);

  const fail = async (message: string, ErrorType: new (message: string) => Error = Error): Promise<never> => {
    killGroup('SIGKILL');
    await closed;
    process.removeListener('exit', onProcessExit);
    const output = outputTail.trim();
    throw new ErrorType(output ? `${message}\n--- moto_server output ---\n${output}` : message);
  };

  const endpoint = `http://${HOST}:${port}`;
  const deadline = Date.now() + timeoutMs;
  while (true) {
    if (spawnError) return fail(`Could not spawn the moto_server launcher: ${spawnError.message}`);
    if (exitCode !== undefined) {
      const failure = startupExitFailure(exitCode, { outputTail, port, stateFile });
      return fail(failure.message, failure.ErrorType);
    }
    if (await answersHttp(endpoint)) {
      const launcher = outputTail.includes(PLAIN_WARNING) ? 'plain' : 'serialised';
      return { child, launcher, closed, killGroup, onProcessExit };
    }
    if (Date.now() > deadline) {
      return fail(`moto_server did not answer on ${endpoint} within ${timeoutMs} ms`);
    }
    await sleep(100);
  }
}

/** Why the launcher exited during startup, from its exit code and output. */
function startupExitFailure(
  exitCode: number | null,
  launch: { readonly outputTail: string; readonly port: number; readonly stateFile: string | undefined },
): { message: string; ErrorType?: new (message: string) => Error } {
  if (exitCode === NOT_INSTALLED_EXIT_CODE) {
    return { message: 'moto_server was not found on PATH. Install it with: pip install "moto[server]"' };
  }
  if (exitCode === STATE_FILE_EXIT_CODE || exitCode === NO_LAUNCHER_EXIT_CODE) {
    // The launcher's own message says what to do; no port retry.
    return { message: `moto_server could not start with the state file ${launch.stateFile}` };
  }
  if (/address already in use/i.test(launch.outputTail)) {
    return { message: `moto_server could not bind port ${launch.port}`, ErrorType: PortInUseError };
  }
  return { message: `moto_server exited during startup with code ${exitCode}` };
}

function createHandle(
  launched: LaunchedProcess,
  port: number,
  workDir: string,
  restoredState: boolean,
): MotoServer {
  const endpoint = `http://${HOST}:${port}`;
  let stopping: Promise<void> | undefined;

  const motoApi = async (path: string, init: RequestInit = {}): Promise<string> => {
    const response = await fetch(`${endpoint}${path}`, { method: 'POST', ...init });
    const text = await response.text();
    if (!response.ok) {
      throw new Error(`moto ${init.method ?? 'POST'} ${path} failed with HTTP ${response.status}: ${text}`);
    }
    return text;
  };

  return {
    endpoint,
    port,
    launcher: launched.launcher,
    restoredState,
    clientConfig: {
      endpoint,
      region: REGION,
      credentials: LOCAL_AWS_CREDENTIALS,
    },
    env: {
      AWS_ENDPOINT_URL: endpoint,
      AWS_REGION: REGION,
      AWS_DEFAULT_REGION: REGION,
      AWS_ACCESS_KEY_ID: 'testing',
      AWS_SECRET_ACCESS_KEY: 'testing',
    },

    async reset() {
      await motoApi('/moto-api/reset');
    },

    async startCounting() {
      await motoApi('/moto-api/recorder/reset-recording');
      await motoApi('/moto-api/recorder/start-recording');
    },

    async stopCounting() {
      await motoApi('/moto-api/recorder/stop-recording');
    },

    async countOperations() {
      const recording = await motoApi('/moto-api/recorder/download-recording', { method: 'GET' });
      return countRecordedOperations(recording);
    },

    async resetAuth(initialNoAuthActionCount) {
      const body = Number.isFinite(initialNoAuthActionCount) ? String(initialNoAuthActionCount) : 'inf';
      const response = JSON.parse(await motoApi('/moto-api/reset-auth', { body })) as {
        PREVIOUS_INITIAL_NO_AUTH_ACTION_COUNT: string;
      };
      return {
        previousInitialNoAuthActionCount: parsePythonFloat(response.PREVIOUS_INITIAL_NO_AUTH_ACTION_COUNT),
      };
    },

    stop() {
      stopping ??= (async () => {
        // Nothing to shut down gracefully: moto keeps its state in memory, and a state file is already
        // written after every change; SIGTERM takes python/werkzeug over a second to honour. Closing
        // stdin also fires the watchdog as a fallback.
        launched.child.stdin?.end();
        launched.killGroup('SIGKILL');
        // 'close' fires once every process holding moto's stdout/stderr pipes has died.
        await launched.closed;
        process.removeListener('exit', launched.onProcessExit);
        await rm(workDir, { recursive: true, force: true });
      })();
      return stopping;
    },
  };
}

/**
 * Counts the requests in a moto recording (one JSON object per line) by `X-Amz-Target`.
 *
 * moto appends each entry with two unsynchronised writes, so under heavy concurrency two entries may end up
 * on one line; such lines are not valid JSON and are scanned for target headers with a regular expression
 * instead (request bodies are base64-encoded in the recording, so they cannot produce false matches).
 */
export function countRecordedOperations(recording: string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const line of recording.split('\n')) {
    if (!line.trim()) continue;
    for (const key of recordedOperationsOf(line)) counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}

/** The operations of one recording line: its target, its method and path, or every target in a torn line. */
function recordedOperationsOf(line: string): string[] {
  let entry: RecordedRequest;
  try {
    entry = JSON.parse(line) as RecordedRequest;
  } catch {
    return [...line.matchAll(TARGET_PATTERN)].flatMap((match) => (match[1] ? [match[1]] : []));
  }
  const target = Object.entries(entry.headers ?? {}).find(([name]) => name.toLowerCase() === 'x-amz-target');
  if (target) return [target[1]];
  const path = new URL(entry.url ?? '/', 'http://moto').pathname;
  return path.startsWith('/moto-api/') ? [] : [`${entry.method ?? 'UNKNOWN'} ${path}`];
}

interface RecordedRequest {
  headers?: Record<string, string>;
  method?: string;
  url?: string;
}

async function findFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, HOST, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : undefined;
      server.close(() => (port ? resolve(port) : reject(new Error('Could not determine a free port'))));
    });
  });
}

async function answersHttp(endpoint: string): Promise<boolean> {
  try {
    // A cheap moto-api route: a GET is answered with HTTP 400 and changes nothing.
    const response = await fetch(`${endpoint}/moto-api/reset-auth`, { signal: AbortSignal.timeout(1_000) });
    await response.arrayBuffer();
    return true;
  } catch {
    return false;
  }
}

function processGroupExists(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Parses a Python `str(float)`, which spells infinity as `inf`. */
function parsePythonFloat(value: string): number {
  if (/^\+?inf(inity)?$/i.test(value)) return Number.POSITIVE_INFINITY;
  if (/^-inf(inity)?$/i.test(value)) return Number.NEGATIVE_INFINITY;
  return Number.parseFloat(value);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
