/**
 * Swap `process.stdout.write` for a counting sink while handlers run: their JSON log lines and EMF
 * documents are still built and serialised (that cost is part of what is measured), but not shown,
 * and their size is known (CloudWatch Logs bills ingestion by the byte).
 */

export interface StdoutSink {
  /** Bytes written since the sink was installed (or since the last {@link StdoutSink.reset}). */
  readonly bytes: number;
  /** Lines written (each log line and EMF document ends with a newline). */
  readonly lines: number;
  /** What was written, when the sink was asked to keep it. */
  readonly text: string;
  reset(): void;
  /** Put the real `write` back. Idempotent. */
  restore(): void;
}

export function sinkStdout(options: { readonly keepText?: boolean } = {}): StdoutSink {
  const original = process.stdout.write;
  let bytes = 0;
  let lines = 0;
  let kept: string[] = [];
  const sink = (chunk: unknown, ...rest: unknown[]): boolean => {
    const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8');
    bytes += Buffer.byteLength(text, 'utf8');
    if (options.keepText) kept.push(text);
    for (let index = text.indexOf('\n'); index !== -1; index = text.indexOf('\n', index + 1)) lines++;
    // Honour a write callback, as a stream would.
    const callback = rest.find((arg): arg is () => void => typeof arg === 'function');
    callback?.();
    return true;
  };
  process.stdout.write = sink as typeof process.stdout.write;
  let restored = false;
  return {
    get bytes() {
      return bytes;
    },
    get lines() {
      return lines;
    },
    get text() {
      return kept.join('');
    },
    reset() {
      bytes = 0;
      lines = 0;
      kept = [];
    },
    restore() {
      if (restored) return;
      restored = true;
      process.stdout.write = original;
    },
  };
}

/** Run `fn` with stdout sunk; returns its result and what it wrote. */
export async function withStdoutSunk<T>(
  fn: () => Promise<T>,
): Promise<{ result: T; bytes: number; lines: number }> {
  const sink = sinkStdout();
  try {
    const result = await fn();
    return { result, bytes: sink.bytes, lines: sink.lines };
  } finally {
    sink.restore();
  }
}
