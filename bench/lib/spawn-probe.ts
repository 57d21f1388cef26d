/**
 * Run a probe script in a fresh `node` process and read the one `BENCH_RESULT {json}` line it
 * prints: how the cold-start benchmarks time a process from its start (Node's `performance.now()`
 * counts from the process start) without this process's own load mixing in.
 */
import { spawn } from 'node:child_process';

export interface ProbeOptions {
  readonly cwd: string;
  readonly env: Readonly<Record<string, string>>;
  /** Names the probe in an error. */
  readonly what: string;
}

export interface ProbeResult {
  /** The JSON of the child's `BENCH_RESULT` line. */
  readonly result: Record<string, unknown>;
  /** Spawn to that line, as seen from this process (ms). */
  readonly spawnToResultMs: number;
}

const MARKER = 'BENCH_RESULT ';

/**
 * For a probe's environment: the SDK warns once per process that Node 20 loses support in 2027 (a
 * stack trace and a write to stderr); the Lambda runtime's Node 24 never does, so probes are spared it.
 */
export const QUIET_SDK = { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' } as const;

/** @throws Error with the child's last stderr when it exits non-zero or prints no result. */
export function spawnProbe(args: readonly string[], options: ProbeOptions): Promise<ProbeResult> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    let resultAt: number | undefined;
    let stdout = '';
    let stderr = '';
    const child = spawn(process.execPath, args, {
      cwd: options.cwd,
      env: options.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
      if (resultAt === undefined && stdout.includes(MARKER)) resultAt = performance.now();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString('utf8')).slice(-4_000);
    });
    child.once('error', reject);
    child.once('close', (code) => {
      const line = stdout.split('\n').find((text) => text.startsWith(MARKER));
      if (code !== 0 || line === undefined || resultAt === undefined) {
        reject(new Error(`${options.what}: the probe exited with ${code} and no result\n${stderr}`));
        return;
      }
      resolve({
        result: JSON.parse(line.slice(MARKER.length)) as Record<string, unknown>,
        spawnToResultMs: resultAt - started,
      });
    });
  });
}
