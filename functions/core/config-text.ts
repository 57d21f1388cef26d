/**
 * The configuration text of a file: JSON with the line and column of a syntax error, then the schema
 * ({@link parseRefresherConfig}, what `cdk synth` and the functions apply too). Pure; reading the file
 * is `functions/runtime/config-file.ts`'s (`loadConfigFile`, the loader `npm start` and the CLI share).
 */
import type { RefresherConfig } from './config.js';
import { parseRefresherConfig } from './config-schema.js';

export type ConfigFileErrorCode = 'config_file_unreadable' | 'config_file_not_json';

/** The file cannot be read, or is not JSON. The message names the file (and the line of a JSON error). */
export class ConfigFileError extends Error {
  override readonly name = 'ConfigFileError';
  constructor(
    message: string,
    readonly code: ConfigFileErrorCode,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * Parse and validate the text of the configuration file at `path` (named in the messages).
 * @throws ConfigFileError `config_file_not_json` when the text is not JSON.
 * @throws ConfigError listing every problem of the schema, each naming the provider and field.
 */
export function parseConfigText(text: string, path: string): RefresherConfig {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ConfigFileError(
      `${path} is not valid JSON: ${describeJsonError(text, error as Error)}`,
      'config_file_not_json',
    );
  }
  return parseRefresherConfig(json, `configuration ${path}`);
}

/**
 * `line 3, column 5 (offset 27): Expected ',' or '}' after property value in JSON`. V8's messages
 * give an offset for some errors and none for others (it changes between Node versions), so the
 * offset is found by {@link firstJsonErrorOffset} instead.
 */
export function describeJsonError(text: string, error: Error): string {
  const offset = firstJsonErrorOffset(text);
  const message = error.message.replace(/ at position \d+.*$/s, '').replace(/, ".*" is not valid JSON$/s, '');
  if (offset === undefined) return message;
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  const column = offset - before.lastIndexOf('\n');
  return `line ${line}, column ${column} (offset ${offset}): ${message}`;
}

/**
 * The offset of the first character that makes `text` invalid JSON (RFC 8259), `text.length` when
 * it ends too early, or `undefined` when it is valid. A small recursive-descent scanner; it builds
 * no values.
 */
export function firstJsonErrorOffset(text: string): number | undefined {
  return new JsonSyntaxScanner(text).firstErrorOffset();
}

/** Thrown inside {@link JsonSyntaxScanner} at the first offending offset. */
class JsonSyntaxStop {
  constructor(readonly offset: number) {}
}

/** The scanner of {@link firstJsonErrorOffset}: one method per RFC 8259 production. */
class JsonSyntaxScanner {
  readonly #text: string;
  #at = 0;

  constructor(text: string) {
    this.#text = text;
  }

  firstErrorOffset(): number | undefined {
    try {
      this.#value(0);
      this.#skipSpace();
      if (this.#at < this.#text.length) this.#fail();
      return undefined;
    } catch (error) {
      if (error instanceof JsonSyntaxStop) return Math.min(error.offset, this.#text.length);
      throw error;
    }
  }

  #fail(offset = this.#at): never {
    throw new JsonSyntaxStop(offset);
  }

  #char(offset = 0): string {
    return this.#text.charAt(this.#at + offset);
  }

  #skipSpace(): void {
    while (this.#at < this.#text.length && ' \t\n\r'.includes(this.#char())) this.#at += 1;
  }

  #expect(char: string): void {
    if (this.#char() !== char) this.#fail();
    this.#at += 1;
  }

  #value(depth: number): void {
    if (depth > 512) this.#fail();
    this.#skipSpace();
    const char = this.#char();
    if (char === '{') this.#list('}', () => this.#member(depth));
    else if (char === '[') this.#list(']', () => this.#value(depth + 1));
    else if (char === '"') this.#string();
    else if (/[tfn]/.test(char)) this.#literal(char);
    else this.#number();
  }

  /** `"name": value` inside an object. */
  #member(depth: number): void {
    this.#skipSpace();
    this.#string();
    this.#skipSpace();
    this.#expect(':');
    this.#value(depth + 1);
  }

  /** `[` or `{` (at the current offset), items separated by commas, then `close`. */
  #list(close: string, item: () => void): void {
    this.#at += 1;
    this.#skipSpace();
    if (this.#char() === close) {
      this.#at += 1;
      return;
    }
    for (;;) {
      item();
      this.#skipSpace();
      if (this.#char() !== ',') break;
      this.#at += 1;
    }
    this.#expect(close);
  }

  #string(): void {
    this.#expect('"');
    for (;;) {
      if (this.#at >= this.#text.length) this.#fail();
      const char = this.#char();
      if (char === '"') break;
      if (char.charCodeAt(0) < 0x20) this.#fail();
      if (char === '\\') this.#escape();
      else this.#at += 1;
    }
    this.#at += 1;
  }

  /** A backslash escape inside a string: `\uXXXX` or one of `"\/bfnrt`. */
  #escape(): void {
    const escaped = this.#char(1);
    if (escaped === 'u') {
      for (let i = 2; i <= 5; i += 1) if (!/[0-9a-fA-F]/.test(this.#char(i))) this.#fail(this.#at + i);
      this.#at += 6;
    } else if (escaped !== '' && '"\\/bfnrt'.includes(escaped)) {
      this.#at += 2;
    } else {
      this.#fail(this.#at + 1);
    }
  }

  #literal(first: string): void {
    const word = first === 't' ? 'true' : first === 'f' ? 'false' : 'null';
    for (const letter of word) this.#expect(letter);
  }

  #number(): void {
    const match = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(this.#text.slice(this.#at));
    if (match === null) this.#fail();
    this.#at += match?.[0].length ?? 0;
  }
}
