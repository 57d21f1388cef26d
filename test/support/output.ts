/**
 * Keep what in-process handlers write (JSON logs, EMF metrics) out of the test output, and collect it
 * for the tests' secret scans. `vi.restoreAllMocks()` ends the capture.
 */
import { vi } from 'vitest';

/** Append every chunk written to `streams` to `into`, instead of writing it. */
export function captureProcessOutput(
  into: string[],
  streams: readonly ('stdout' | 'stderr')[] = ['stdout', 'stderr'],
): void {
  const capture = (chunk: unknown) => {
    into.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8'));
    return true;
  };
  for (const stream of streams) vi.spyOn(process[stream], 'write').mockImplementation(capture);
}
