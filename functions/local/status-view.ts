/**
 * The local runner's live status: one row per provider (state, expires in, last refresh, failures,
 * next run, last error), redrawn in place on a TTY, and one line per event otherwise. Never shows a
 * token.
 */
import { ago, expiresIn, formatDuration } from '../core/duration.js';
import { providerCondition } from '../core/provider-condition.js';
import { renderTable } from '../core/text-table.js';
import type { ProviderState } from '../core/types.js';

export interface StatusRow {
  readonly provider: string;
  readonly state: ProviderState | undefined;
  /** The next run the local scheduler knows of. */
  readonly nextRunAt: number | undefined;
}

/**
 * The provider's state in a word or two: its {@link providerCondition}, the one the CLI's `status`
 * shows too. Here a provider that was never refreshed is `waiting`: the local scheduler fires its
 * first run at once.
 */
export function stateLabel(state: ProviderState | undefined, now: number): string {
  const condition = providerCondition(state, now);
  return condition === 'never refreshed' ? 'waiting' : condition;
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
  const cells = rows.map(({ provider, state, nextRunAt }) => [
    provider,
    stateLabel(state, now),
    expiresIn(state?.tokenExpiresAt, now),
    ago(state?.lastSuccessAt, now),
    state?.lastSuccessAt === undefined ? '-' : String(state.fence),
    String(state?.consecutiveFailures ?? 0),
    nextRunAt === undefined ? '-' : nextRunAt > now ? `in ${formatDuration(nextRunAt - now)}` : 'now',
    state?.lastErrorCode ?? '-',
  ]);
  return renderTable(COLUMNS, cells);
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
