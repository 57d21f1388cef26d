/**
 * The local runner's live status: one row per provider (state, expires in, last refresh, failures,
 * next run, last error), redrawn in place on a TTY, and one line per event otherwise. Never shows a
 * token.
 */
import type { ProviderState } from '../core/types.js';

export interface StatusRow {
  readonly provider: string;
  readonly state: ProviderState | undefined;
  /** The next run the local scheduler knows of. */
  readonly nextRunAt: number | undefined;
}

/** `54m 10s`, `9s`, `2h 5m`; negative durations are given by the caller's wording. */
export function formatDuration(ms: number): string {
  const seconds = Math.max(0, Math.round(ms / 1000));
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m ${seconds % 60}s`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours}h ${minutes % 60}m`;
  return `${Math.floor(hours / 24)}d ${hours % 24}h`;
}

/** The provider's state in a word or two. */
export function stateLabel(state: ProviderState | undefined, now: number): string {
  if (state === undefined) return 'waiting';
  if (state.leaseOwner !== undefined && (state.leaseExpiresAt ?? 0) > now) return 'refreshing';
  if (state.lastErrorPermanent) return 'needs attention';
  if (state.consecutiveFailures > 0) return 'failing';
  if (state.lastSuccessAt === undefined) return 'waiting';
  if ((state.tokenExpiresAt ?? 0) <= now) return 'expired';
  return 'ok';
}

const COLUMNS = [
  'provider',
  'state',
  'expires in',
  'last refresh',
  'generation',
  'failures',
  'next run',
  'last error',
];

/** The table's lines (header first), plain text. */
export function renderStatus(rows: readonly StatusRow[], now: number): string[] {
  const cells = rows.map(({ provider, state, nextRunAt }) => {
    const expiresAt = state?.tokenExpiresAt;
    return [
      provider,
      stateLabel(state, now),
      expiresAt === undefined
        ? '-'
        : expiresAt > now
          ? formatDuration(expiresAt - now)
          : `expired ${formatDuration(now - expiresAt)} ago`,
      state?.lastSuccessAt === undefined ? 'never' : `${formatDuration(now - state.lastSuccessAt)} ago`,
      state?.lastSuccessAt === undefined ? '-' : String(state.fence),
      String(state?.consecutiveFailures ?? 0),
      nextRunAt === undefined ? '-' : nextRunAt > now ? `in ${formatDuration(nextRunAt - now)}` : 'now',
      state?.lastErrorCode ?? '-',
    ];
  });
  const widths = COLUMNS.map((title, i) =>
    Math.max(title.length, ...cells.map((row) => (row[i] ?? '').length)),
  );
  const line = (values: readonly string[]) =>
    values
      .map((value, i) => value.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(COLUMNS), ...cells.map(line)];
}

export interface StatusViewOptions {
  readonly out: NodeJS.WritableStream & { isTTY?: boolean };
  /** Redraw in place (a TTY) or print one line per event. Default: `out.isTTY`. */
  readonly tty?: boolean;
  readonly now?: () => number;
}

export class StatusView {
  readonly #out: NodeJS.WritableStream;
  readonly #tty: boolean;
  readonly #now: () => number;
  readonly #events: string[] = [];
  #drawnLines = 0;

  constructor(options: StatusViewOptions) {
    this.#out = options.out;
    this.#tty = options.tty ?? options.out.isTTY === true;
    this.#now = options.now ?? Date.now;
  }

  /** A refresh result, a read, a failure: printed at once (not a TTY) or kept for the next redraw. */
  event(text: string): void {
    const stamped = `${new Date(this.#now()).toISOString().slice(11, 19)}  ${text}`;
    if (!this.#tty) {
      this.#out.write(`${stamped}\n`);
      return;
    }
    this.#events.push(stamped);
    if (this.#events.length > 8) this.#events.shift();
  }

  /** Redraw the table (TTY only; without a TTY the events are the output). */
  draw(rows: readonly StatusRow[]): void {
    if (!this.#tty) return;
    const lines = [
      ...renderStatus(rows, this.#now()),
      '',
      'recent events:',
      ...this.#events.map((e) => `  ${e}`),
    ];
    // Move up over the previous drawing and clear to the end of the screen, then draw again.
    const up = this.#drawnLines > 0 ? `\u001b[${this.#drawnLines}A\u001b[0J` : '';
    this.#out.write(`${up}${lines.join('\n')}\n`);
    this.#drawnLines = lines.length;
  }
}
