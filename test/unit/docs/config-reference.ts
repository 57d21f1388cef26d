/**
 * Keeps the README's configuration table true to the zod schema: the fields of the schema (nested
 * ones as `request.method`), which grants they apply to, whether they are required, and their
 * defaults, compared with the table's rows. Pure functions of the README text, so the test can also
 * prove that a deleted or invented row is reported.
 *
 * The fields only the signed-assertion grants have (`jwt_bearer`, `github_app`) are documented in
 * docs/signed-assertions.md's table instead ({@link signedAssertionFields}), which the same rules
 * check: the README is capped at 25 KB.
 */
import { z } from 'zod';
import {
  clientCredentialsProviderSchema,
  githubAppProviderSchema,
  httpProviderSchema,
  jwtBearerProviderSchema,
  refresherConfigSchema,
  refreshTokenProviderSchema,
} from '../../../functions/core/config-schema.js';
import { section } from './markdown.js';

/** Where a field may appear: the top level of the file, or a provider of one of these grants. */
export const TOP_LEVEL = 'top level';
export const GRANTS = ['client_credentials', 'refresh_token', 'http', 'jwt_bearer', 'github_app'] as const;
/** The grants whose own fields docs/signed-assertions.md documents instead of the README. */
export const SIGNED_ASSERTION_GRANTS: ReadonlySet<string> = new Set(['jwt_bearer', 'github_app']);

/** One field of the schema, merged over the schemas it appears in. */
export interface SchemaField {
  /** Dot path, e.g. `refreshBefore` or `response.tokenPath`. */
  readonly path: string;
  /** `top level` or the grants whose provider schema has the field. */
  readonly appliesTo: ReadonlySet<string>;
  /** Neither optional nor defaulted: the user must write it. */
  readonly required: boolean;
  readonly hasDefault: boolean;
  /** The default most of the schemas that have the field share. */
  readonly defaultValue?: unknown;
  /**
   * Grants whose default differs from {@link SchemaField.defaultValue} (`requestTimeout` of
   * `refresh_token`); the table's default cell names each as `` `grant`: `value` ``.
   */
  readonly grantDefaults: ReadonlyMap<string, string | undefined>;
}

interface Unwrapped {
  readonly inner: z.core.$ZodType;
  readonly optional: boolean;
  readonly hasDefault: boolean;
  readonly defaultValue?: unknown;
}

/** Strip the wrappers that do not change a field's shape, noting optional and default on the way. */
function unwrap(schema: z.core.$ZodType): Unwrapped {
  let node = schema;
  let optional = false;
  let hasDefault = false;
  let defaultValue: unknown;
  for (;;) {
    if (node instanceof z.ZodDefault || node instanceof z.ZodPrefault) {
      if (!hasDefault) {
        hasDefault = true;
        defaultValue = node.def.defaultValue;
      }
      node = node.def.innerType;
    } else if (node instanceof z.ZodOptional) {
      optional = true;
      node = node.def.innerType;
    } else if (node instanceof z.ZodNullable || node instanceof z.ZodReadonly || node instanceof z.ZodCatch) {
      node = node.def.innerType;
    } else if (node instanceof z.ZodPipe) {
      node = node.def.in;
    } else {
      return { inner: node, optional, hasDefault, defaultValue };
    }
  }
}

interface WalkedField {
  readonly path: string;
  readonly required: boolean;
  readonly hasDefault: boolean;
  readonly defaultValue?: unknown;
}

/** Every field of an object schema, depth first; nested objects give their own row and their fields'. */
function walkObject(schema: z.core.$ZodType, prefix = ''): WalkedField[] {
  const { inner } = unwrap(schema);
  if (!(inner instanceof z.ZodObject)) {
    throw new Error(`${prefix || 'schema'} is not a z.object; the documentation walk cannot read it`);
  }
  return Object.entries(inner.shape as Record<string, z.core.$ZodType>).flatMap(([key, child]) => {
    const path = prefix === '' ? key : `${prefix}.${key}`;
    const field = unwrap(child);
    const own: WalkedField = {
      path,
      required: !field.optional && !field.hasDefault,
      hasDefault: field.hasDefault,
      ...(field.hasDefault ? { defaultValue: field.defaultValue } : {}),
    };
    return field.inner instanceof z.ZodObject ? [own, ...walkObject(field.inner, path)] : [own];
  });
}

/** Every field of the configuration file, keyed by dot path. */
export function schemaFields(): Map<string, SchemaField> {
  const sources: [scope: string, schema: z.core.$ZodType][] = [
    [TOP_LEVEL, refresherConfigSchema],
    ['client_credentials', clientCredentialsProviderSchema],
    ['refresh_token', refreshTokenProviderSchema],
    ['http', httpProviderSchema],
    ['jwt_bearer', jwtBearerProviderSchema],
    ['github_app', githubAppProviderSchema],
  ];
  const seen = new Map<string, { field: WalkedField; defaults: Map<string, unknown> }>();
  for (const [scope, schema] of sources) {
    for (const field of walkObject(schema)) {
      const known = seen.get(field.path);
      if (known === undefined) {
        seen.set(field.path, { field, defaults: new Map([[scope, field.defaultValue]]) });
        continue;
      }
      if (known.field.required !== field.required || known.field.hasDefault !== field.hasDefault) {
        throw new Error(
          `"${field.path}" is required in one grant and not in another; the table cannot say so`,
        );
      }
      known.defaults.set(scope, field.defaultValue);
    }
  }
  const fields = new Map<string, SchemaField>();
  for (const [path, { field, defaults }] of seen) {
    const common = mostCommon([...defaults.values()].map(render));
    const grantDefaults = new Map(
      [...defaults]
        .map(([scope, value]) => [scope, render(value)] as const)
        .filter(([, rendered]) => rendered !== common),
    );
    const defaultValue = [...defaults.values()].find((value) => render(value) === common);
    fields.set(path, {
      path,
      appliesTo: new Set(defaults.keys()),
      required: field.required,
      hasDefault: field.hasDefault,
      ...(field.hasDefault ? { defaultValue } : {}),
      grantDefaults,
    });
  }
  return fields;
}

/** Whether only signed-assertion grants have the field. */
function signedAssertionOnly(field: SchemaField): boolean {
  return [...field.appliesTo].every((scope) => SIGNED_ASSERTION_GRANTS.has(scope));
}

/** The fields the README's table documents: all but those only the signed-assertion grants have. */
export function readmeFields(
  fields: ReadonlyMap<string, SchemaField> = schemaFields(),
): Map<string, SchemaField> {
  return new Map([...fields].filter(([, field]) => !signedAssertionOnly(field)));
}

/** The fields docs/signed-assertions.md's table documents: those only the signed-assertion grants have. */
export function signedAssertionFields(
  fields: ReadonlyMap<string, SchemaField> = schemaFields(),
): Map<string, SchemaField> {
  return new Map([...fields].filter(([, field]) => signedAssertionOnly(field)));
}

/** The value that occurs most often (the first of equals). */
function mostCommon<T>(values: readonly T[]): T | undefined {
  const counts = new Map<T, number>();
  for (const value of values) counts.set(value, (counts.get(value) ?? 0) + 1);
  let best: T | undefined;
  let bestCount = 0;
  for (const [value, count] of counts) {
    if (count > bestCount) [best, bestCount] = [value, count];
  }
  return best;
}

/** A default as the table writes it: strings bare, numbers as digits, anything else as JSON. */
export function render(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return String(value);
  return JSON.stringify(value);
}

/** A row of the README's configuration table. */
export interface TableRow {
  readonly field: string;
  readonly appliesTo: string;
  readonly defaultCell: string;
  readonly meaning: string;
  readonly line: string;
}

/** Cells of a Markdown table row (`| a | b |`), trimmed. */
function cells(line: string): string[] {
  return line
    .trim()
    .replace(/^\|/, '')
    .replace(/\|$/, '')
    .split('|')
    .map((cell) => cell.trim());
}

/**
 * The rows of the table in "## Configuration" whose header is `| field | applies to | default | meaning |`.
 * Returns problems instead of rows when the table is missing or a row's first column is not one
 * backticked field name.
 */
export function configurationTable(
  markdown: string,
  document = 'README',
): { rows: TableRow[]; problems: string[] } {
  const text = section(markdown, 'Configuration');
  if (text === undefined)
    return { rows: [], problems: [`the ${document} has no "## Configuration" section`] };
  const lines = text.split('\n');
  const header = lines.findIndex((line) => /^\|\s*field\s*\|\s*applies to\s*\|\s*default\s*\|/.test(line));
  if (header === -1) {
    return {
      rows: [],
      problems: ['"## Configuration" has no "| field | applies to | default | meaning |" table'],
    };
  }
  const rows: TableRow[] = [];
  const problems: string[] = [];
  for (const line of lines.slice(header + 2)) {
    if (!line.startsWith('|')) break;
    const [first = '', appliesTo = '', defaultCell = '', ...rest] = cells(line);
    const name = /^`([^`]+)`$/.exec(first)?.[1];
    if (name === undefined) {
      problems.push(`configuration table row without a backticked field name in the first column: ${line}`);
      continue;
    }
    rows.push({ field: name, appliesTo, defaultCell, meaning: rest.join('|'), line });
  }
  return { rows, problems };
}

/** What the "applies to" cell names: `top level`, `all` (every grant) or backticked grants. */
function parseAppliesTo(cell: string): Set<string> {
  if (cell === TOP_LEVEL) return new Set([TOP_LEVEL]);
  if (cell === 'all') return new Set(GRANTS);
  return new Set([...cell.matchAll(/`([^`]+)`/g)].map((match) => match[1] ?? ''));
}

function sameSet(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  return a.size === b.size && [...a].every((item) => b.has(item));
}

function describeScope(scope: ReadonlySet<string>): string {
  if (sameSet(scope, new Set(GRANTS))) return 'all';
  return [...scope].map((item) => (item === TOP_LEVEL ? item : `\`${item}\``)).join(', ');
}

/**
 * Every disagreement between the schema and the README's configuration table, each naming the
 * field: undocumented fields, rows for fields the schema does not have, duplicate rows, a wrong
 * "applies to", a wrong default, and required/optional fields documented the other way round.
 */
export function configurationReferenceProblems(
  markdown: string,
  fields: ReadonlyMap<string, SchemaField> = readmeFields(),
  document = 'README',
): string[] {
  const { rows, problems } = configurationTable(markdown, document);
  const documented = new Map<string, TableRow>();
  for (const row of rows) {
    if (documented.has(row.field)) problems.push(`\`${row.field}\` has two rows in the configuration table`);
    documented.set(row.field, row);
  }
  for (const path of fields.keys()) {
    if (!documented.has(path)) {
      problems.push(`schema field \`${path}\` is missing from the ${document}'s configuration table`);
    }
  }
  for (const row of documented.values()) {
    const field = fields.get(row.field);
    if (field === undefined) {
      problems.push(
        `the ${document}'s configuration table documents \`${row.field}\`, which is not a field of the schema`,
      );
      continue;
    }
    problems.push(...rowProblems(row, field));
  }
  return problems;
}

/** One documented field against the schema: its "applies to", its default, required or optional. */
function rowProblems(row: TableRow, field: SchemaField): string[] {
  const problems: string[] = [];
  if (!sameSet(parseAppliesTo(row.appliesTo), field.appliesTo)) {
    problems.push(
      `\`${row.field}\` applies to ${describeScope(field.appliesTo)} in the schema, but the table says "${row.appliesTo}"`,
    );
  }
  const documentedDefault = /`([^`]*)`/.exec(row.defaultCell)?.[1];
  const says = /\brequired\b/.test(row.defaultCell);
  if (field.hasDefault) {
    const expected = render(field.defaultValue);
    if (documentedDefault !== expected) {
      problems.push(
        `\`${row.field}\` defaults to \`${expected}\` in the schema, but the table's default column says "${row.defaultCell}"`,
      );
    }
    problems.push(...grantDefaultProblems(row, field));
  } else if (field.required && !says) {
    problems.push(
      `\`${row.field}\` is required in the schema; the table's default column must say "required"`,
    );
  } else if (!field.required && says) {
    problems.push(`\`${row.field}\` is optional in the schema, but the table says "${row.defaultCell}"`);
  }
  return problems;
}

/**
 * A field whose default differs per grant: the row (its default or meaning cell; the default cell
 * keeps the common default alone) names each exception as `` `grant`: `value` ``, and names no other.
 */
function grantDefaultProblems(row: TableRow, field: SchemaField): string[] {
  const text = `${row.defaultCell} | ${row.meaning}`;
  const documented = new Map(
    [...text.matchAll(/`([a-z_]+)`: `([^`]*)`/g)]
      .filter((match) => (GRANTS as readonly string[]).includes(match[1] ?? ''))
      .map((match) => [match[1] ?? '', match[2]]),
  );
  const problems: string[] = [];
  for (const [grant, value] of field.grantDefaults) {
    if (documented.get(grant) !== value) {
      problems.push(
        `\`${row.field}\` defaults to \`${value}\` for \`${grant}\` in the schema; its row must say "\`${grant}\`: \`${value}\`"`,
      );
    }
  }
  for (const grant of documented.keys()) {
    if (!field.grantDefaults.has(grant)) {
      problems.push(
        `\`${row.field}\` has no default of its own for \`${grant}\` in the schema, but its row names one`,
      );
    }
  }
  return problems;
}
