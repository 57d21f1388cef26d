/**
 * The configuration text of a file: JSON with the line and column of a syntax error, then the schema
 * ({@link parseRefresherConfig}, what `cdk synth` and the functions apply too). Pure; reading the file
 * is `functions/runtime/config-file.ts`'s (`loadConfigFile`, the loader `npm start` and the CLI share).
 */
import { parseRefresherConfig, type RefresherConfig } from './config.js';

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
  let at = 0;
  class Stop {
    constructor(readonly offset: number) {}
  }
  const fail = (offset = at): never => {
    throw new Stop(offset);
  };
  const skipSpace = () => {
    while (at < text.length && ' \t\n\r'.includes(text.charAt(at))) at += 1;
  };
  const expectChar = (char: string) => {
    if (text.charAt(at) !== char) fail();
    at += 1;
  };
  const scanString = () => {
    expectChar('"');
    for (;;) {
      if (at >= text.length) fail();
      const char = text.charAt(at);
      if (char === '"') break;
      if (char.charCodeAt(0) < 0x20) fail();
      if (char !== '\\') {
        at += 1;
        continue;
      }
      const escaped = text.charAt(at + 1);
      if (escaped === 'u') {
        for (let i = 2; i <= 5; i += 1) if (!/[0-9a-fA-F]/.test(text.charAt(at + i))) fail(at + i);
        at += 6;
      } else if (escaped !== '' && '"\\/bfnrt'.includes(escaped)) {
        at += 2;
      } else {
        fail(at + 1);
      }
    }
    at += 1;
  };
  const scanNumber = () => {
    const match = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(at));
    if (match === null) fail();
    at += match?.[0].length ?? 0;
  };
  const scanList = (close: string, item: () => void) => {
    at += 1;
    skipSpace();
    if (text.charAt(at) === close) {
      at += 1;
      return;
    }
    for (;;) {
      item();
      skipSpace();
      if (text.charAt(at) !== ',') break;
      at += 1;
    }
    expectChar(close);
  };
  const scanValue = (depth: number): void => {
    if (depth > 512) fail();
    skipSpace();
    const char = text.charAt(at);
    if (char === '{') {
      scanList('}', () => {
        skipSpace();
        scanString();
        skipSpace();
        expectChar(':');
        scanValue(depth + 1);
      });
    } else if (char === '[') {
      scanList(']', () => scanValue(depth + 1));
    } else if (char === '"') {
      scanString();
    } else if (/[tfn]/.test(char)) {
      const word = char === 't' ? 'true' : char === 'f' ? 'false' : 'null';
      for (const letter of word) expectChar(letter);
    } else {
      scanNumber();
    }
  };
  try {
    scanValue(0);
    skipSpace();
    if (at < text.length) fail();
    return undefined;
  } catch (error) {
    if (error instanceof Stop) return Math.min(error.offset, text.length);
    throw error;
  }
}
