/**
 * `npm start`'s logger: structured JSON lines to `.token-refresher/local.log`, warnings and errors also
 * to the status view. The log holds provider error messages (redacted) and caller names, so the file
 * is private to its owner (issue 15, finding 14): created 0600, and an existing one (left by an older
 * version, created by hand or under a permissive umask) brought to 0600 when the logger opens it —
 * not only when `.token-refresher/` is prepared, which a file created afterwards would escape.
 */
import { appendFileSync, chmodSync, closeSync, openSync } from 'node:fs';
import type { Logger } from '../core/ports.js';
import { PRIVATE_FILE_MODE } from './persistence.js';

/** Structured lines to a private file; warnings and errors also to `onProblem`. */
export class LocalLogger implements Logger {
  readonly #file: string;
  readonly #onProblem: (text: string) => void;

  constructor(file: string, onProblem: (text: string) => void) {
    this.#file = file;
    this.#onProblem = onProblem;
    // `mode` applies only when the file is created; chmod covers an existing one.
    closeSync(openSync(file, 'a', PRIVATE_FILE_MODE));
    chmodSync(file, PRIVATE_FILE_MODE);
  }

  #write(level: string, message: string, attributes?: Record<string, unknown>): void {
    appendFileSync(
      this.#file,
      `${JSON.stringify({ time: new Date().toISOString(), level, message, ...attributes })}\n`,
      { mode: PRIVATE_FILE_MODE },
    );
  }

  debug(message: string, attributes?: Record<string, unknown>): void {
    this.#write('DEBUG', message, attributes);
  }

  info(message: string, attributes?: Record<string, unknown>): void {
    this.#write('INFO', message, attributes);
  }

  warn(message: string, attributes?: Record<string, unknown>): void {
    this.#write('WARN', message, attributes);
    this.#onProblem(`${message}${attributes?.provider ? ` (${String(attributes.provider)})` : ''}`);
  }

  error(message: string, attributes?: Record<string, unknown>): void {
    this.#write('ERROR', message, attributes);
    this.#onProblem(`${message}${attributes?.provider ? ` (${String(attributes.provider)})` : ''}`);
  }
}
