/**
 * A small structural checker for the JSON Schemas the functions apply at run time: the deployed
 * configuration's (generated from the one zod schema, `deployed-config-schema.generated.ts`), the
 * token record's, and the events'. It interprets exactly {@link SHAPE_KEYWORDS}, the keywords those
 * schemas use; a unit test walks every schema and fails on any other keyword, so that a schema
 * change cannot silently weaken a check.
 *
 * Why not a library: `@cfworker/json-schema` is about 22.7 KB minified, ajv's standalone output for
 * the configuration schema over 100 KB, `@exodus/schemasafe` 65 KB (and it refuses the schema); this
 * is about 4 KB, and the Lambda bundles are what every cold start loads (issue 17).
 *
 * Problems name the path (`providers[0].tokenUrl: must be a URL`) and what is expected, never the
 * value: configuration values sit next to secrets, and a token record holds one.
 */

/** A JSON type as the `type` keyword names it (`integer`: a whole number). */
export type JsonType = 'string' | 'integer' | 'number' | 'boolean' | 'object' | 'array' | 'null';

/** The formats the checker knows. */
export type JsonFormat = 'uri' | 'date-time';

/** The subset of JSON Schema (2020-12) that {@link shapeProblems} interprets. */
export interface JsonShape {
  readonly type?: JsonType;
  readonly properties?: Readonly<Record<string, JsonShape>>;
  readonly required?: readonly string[];
  /** `false`: no other properties; a schema: what every other property must be. */
  readonly additionalProperties?: boolean | JsonShape;
  readonly propertyNames?: JsonShape;
  readonly items?: JsonShape;
  readonly enum?: readonly (string | number | boolean | null)[];
  readonly const?: string | number | boolean | null;
  readonly anyOf?: readonly JsonShape[];
  readonly oneOf?: readonly JsonShape[];
  readonly pattern?: string;
  /** What a string that breaks `pattern` must be, for its problem: `must be <description>`. */
  readonly description?: string;
  readonly format?: JsonFormat;
  readonly minLength?: number;
  readonly maxLength?: number;
  readonly minimum?: number;
  readonly maximum?: number;
  readonly minItems?: number;
  readonly maxItems?: number;
}

/** Every keyword {@link shapeProblems} interprets; any other in a schema would be ignored. */
export const SHAPE_KEYWORDS: readonly (keyof JsonShape)[] = [
  'type',
  'properties',
  'required',
  'additionalProperties',
  'propertyNames',
  'items',
  'enum',
  'const',
  'anyOf',
  'oneOf',
  'pattern',
  'description',
  'format',
  'minLength',
  'maxLength',
  'minimum',
  'maximum',
  'minItems',
  'maxItems',
];

/** The result of {@link ShapeParser.safeParse}. */
export type ShapeResult<T> =
  | { readonly success: true; readonly data: T }
  | { readonly success: false; readonly problems: readonly string[] };

/** A schema bound to the type its values have once they pass. */
export interface ShapeParser<T> {
  readonly schema: JsonShape;
  safeParse(value: unknown): ShapeResult<T>;
}

/**
 * A parser that checks values against `schema` and, when they pass, types them as `T`. The caller
 * vouches that `schema` describes `T` (for the configuration a test proves it: the schema is
 * generated from the zod schema `T` is the output of).
 * @param root how a problem at the top level names the value, e.g. `event`.
 */
export function shapeParser<T>(schema: JsonShape, root = 'value'): ShapeParser<T> {
  return {
    schema,
    safeParse(value) {
      const problems = shapeProblems(schema, value, root);
      return problems.length === 0 ? { success: true, data: value as T } : { success: false, problems };
    },
  };
}

/**
 * Every problem of `value` under `schema`, each as `<path>: <what it must be>`.
 * @param root how a problem of the value itself is named, e.g. `event`.
 */
export function shapeProblems(schema: JsonShape, value: unknown, root = 'value'): string[] {
  return problemsAt(schema, value, '').map((problem) =>
    problem.startsWith(': ') ? `${root}${problem}` : problem,
  );
}

/** `path` is `''` at the top level; a field below it is `name`, not `.name`. */
function child(path: string, name: string): string {
  return path === '' ? name : `${path}.${name}`;
}

function problemsAt(schema: JsonShape, value: unknown, path: string): string[] {
  const { anyOf, oneOf, ...rest } = schema;
  if (anyOf !== undefined || oneOf !== undefined) {
    // The keywords beside the alternatives apply too.
    const beside = Object.keys(rest).length === 0 ? [] : problemsAt(rest, value, path);
    return beside.length > 0 ? beside : alternativeProblems(schema, value, path);
  }
  const kind = jsonTypeOf(value);
  if (schema.type !== undefined && !typeMatches(schema.type, kind)) {
    return [`${path}: must be ${TYPE_NAMES[schema.type]} (got ${TYPE_NAMES[kind]})`];
  }
  const problems = valueProblems(schema, value);
  if (problems.length > 0) return problems.map((problem) => `${path}: ${problem}`);
  if (typeof value === 'string') return stringProblems(schema, value).map((problem) => `${path}: ${problem}`);
  if (typeof value === 'number') return numberProblems(schema, value).map((problem) => `${path}: ${problem}`);
  if (Array.isArray(value)) return arrayProblems(schema, value, path);
  if (kind === 'object') return objectProblems(schema, value as Record<string, unknown>, path);
  return [];
}

const TYPE_NAMES: Readonly<Record<JsonType, string>> = {
  string: 'a string',
  integer: 'a whole number',
  number: 'a number',
  boolean: 'true or false',
  object: 'an object',
  array: 'a list',
  null: 'null',
};

/** The JSON type of a value; anything JSON cannot hold (undefined, a function) reads as `null`. */
function jsonTypeOf(value: unknown): JsonType {
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  if (typeof value === 'string' || typeof value === 'boolean') return typeof value as JsonType;
  if (typeof value === 'object' && value !== null) return 'object';
  return 'null';
}

function typeMatches(expected: JsonType, actual: JsonType): boolean {
  return expected === actual || (expected === 'number' && actual === 'integer');
}

/** `enum` and `const`: the allowed values are the schema's, so naming them echoes no input. */
function valueProblems(schema: JsonShape, value: unknown): string[] {
  if (schema.const !== undefined && value !== schema.const)
    return [`must be ${JSON.stringify(schema.const)}`];
  if (schema.enum !== undefined && !schema.enum.some((allowed) => allowed === value)) {
    return [`must be one of ${schema.enum.map((allowed) => JSON.stringify(allowed)).join(', ')}`];
  }
  return [];
}

const FORMAT_PROBLEMS: Readonly<Record<JsonFormat, string>> = {
  uri: 'must be a URL',
  'date-time': 'must be an ISO-8601 date-time with a time zone, e.g. "2026-01-31T12:00:00Z"',
};
/** RFC 3339 `date-time` with seconds and an offset, as zod's `z.iso.datetime({ offset: true })`. */
const DATE_TIME =
  /^(\d{4})-(\d\d)-(\d\d)T([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d+)?(Z|[+-]([01]\d|2[0-3]):[0-5]\d)$/;

/** The date exists (no 30 February, which `Date.parse` would move into March). */
function isDateTime(value: string): boolean {
  const [, year, month, day] = DATE_TIME.exec(value) ?? [];
  if (year === undefined || month === undefined || day === undefined) return false;
  const date = new Date(Date.UTC(Number(year), Number(month) - 1, Number(day)));
  return date.getUTCMonth() === Number(month) - 1 && date.getUTCDate() === Number(day);
}

function formatHolds(format: JsonFormat, value: string): boolean {
  if (format === 'date-time') return isDateTime(value);
  try {
    new URL(value);
    return true;
  } catch {
    return false;
  }
}

function stringProblems(schema: JsonShape, value: string): string[] {
  const problems: string[] = [];
  const length = [...value].length;
  if (schema.minLength !== undefined && length < schema.minLength) {
    problems.push(`must have at least ${schema.minLength} character${schema.minLength === 1 ? '' : 's'}`);
  }
  if (schema.maxLength !== undefined && length > schema.maxLength) {
    problems.push(`must have at most ${schema.maxLength} characters`);
  }
  const { format, pattern } = schema;
  // A format's pattern (zod adds one to date-times) is reported as the format: the regex says less.
  if (format !== undefined && (!formatHolds(format, value) || !patternHolds(pattern, value))) {
    problems.push(FORMAT_PROBLEMS[format]);
  } else if (!patternHolds(pattern, value)) {
    problems.push(
      schema.description === undefined ? `must match ${pattern}` : `must be ${schema.description}`,
    );
  }
  return problems;
}

const compiled = new Map<string, RegExp>();

function patternHolds(pattern: string | undefined, value: string): boolean {
  if (pattern === undefined) return true;
  let regex = compiled.get(pattern);
  if (regex === undefined) {
    regex = new RegExp(pattern, 'u');
    compiled.set(pattern, regex);
  }
  return regex.test(value);
}

function numberProblems(schema: JsonShape, value: number): string[] {
  const problems: string[] = [];
  if (schema.minimum !== undefined && value < schema.minimum)
    problems.push(`must be at least ${schema.minimum}`);
  if (schema.maximum !== undefined && value > schema.maximum)
    problems.push(`must be at most ${schema.maximum}`);
  return problems;
}

function arrayProblems(schema: JsonShape, value: readonly unknown[], path: string): string[] {
  const problems: string[] = [];
  if (schema.minItems !== undefined && value.length < schema.minItems) {
    problems.push(`${path}: must list at least ${schema.minItems} item${schema.minItems === 1 ? '' : 's'}`);
  }
  if (schema.maxItems !== undefined && value.length > schema.maxItems) {
    problems.push(`${path}: must list at most ${schema.maxItems} items`);
  }
  const { items } = schema;
  if (items !== undefined) {
    value.forEach((item, index) => {
      problems.push(...problemsAt(items, item, `${path}[${index}]`));
    });
  }
  return problems;
}

function objectProblems(schema: JsonShape, value: Readonly<Record<string, unknown>>, path: string): string[] {
  const problems: string[] = [];
  const properties = schema.properties ?? {};
  for (const name of schema.required ?? []) {
    if (!Object.hasOwn(value, name)) problems.push(`${child(path, name)}: is required`);
  }
  for (const [name, field] of Object.entries(value)) {
    const declared = Object.hasOwn(properties, name) ? properties[name] : undefined;
    problems.push(...propertyProblems(schema, declared, name, field, path));
  }
  return problems;
}

function propertyProblems(
  schema: JsonShape,
  declared: JsonShape | undefined,
  name: string,
  field: unknown,
  path: string,
): string[] {
  const problems: string[] = [];
  if (schema.propertyNames !== undefined && problemsAt(schema.propertyNames, name, '').length > 0) {
    // The key itself is not repeated: in a record (headers, permissions) it is data.
    problems.push(`${path}: has a key that ${describeKeyRule(schema.propertyNames)}`);
  }
  if (declared !== undefined) return [...problems, ...problemsAt(declared, field, child(path, name))];
  const { additionalProperties } = schema;
  if (additionalProperties === false) {
    problems.push(`${child(path, segment(name))}: is not a field of this object; remove it`);
  } else if (typeof additionalProperties === 'object') {
    problems.push(...problemsAt(additionalProperties, field, child(path, segment(name))));
  }
  return problems;
}

/** A key as a path segment, cut short: a forged event's key must not flood a line. */
function segment(name: string): string {
  return name.length > 64 ? `${name.slice(0, 64)}…` : name;
}

function describeKeyRule(rule: JsonShape): string {
  const parts = [
    rule.pattern === undefined ? undefined : `does not match ${rule.pattern}`,
    rule.maxLength === undefined ? undefined : `may have at most ${rule.maxLength} characters`,
  ].filter((part) => part !== undefined);
  return parts.length > 0 ? `breaks a rule (it ${parts.join(', or ')})` : 'is not allowed';
}

/**
 * `anyOf` (at least one) and `oneOf` (exactly one). When none matches, the problems of the branch the
 * value was evidently meant for: the one whose discriminator (a property every branch fixes with
 * `const`, such as `grant`) it names, else the only branch of its type.
 */
function alternativeProblems(schema: JsonShape, value: unknown, path: string): string[] {
  const branches = schema.oneOf ?? schema.anyOf ?? [];
  const results = branches.map((branch) => problemsAt(branch, value, path));
  const passing = results.filter((problems) => problems.length === 0).length;
  if (schema.oneOf !== undefined && passing > 1) return [`${path}: matches more than one allowed form`];
  if (passing > 0) return [];
  const meant = meantBranch(branches, value, path);
  if (typeof meant === 'string') return [meant];
  return results[meant] ?? [`${path}: matches none of the allowed forms`];
}

/**
 * The index of the branch the value was meant for (`-1`: none can be told), or the problem of a
 * discriminator that names no branch.
 */
function meantBranch(branches: readonly JsonShape[], value: unknown, path: string): number | string {
  const kind = jsonTypeOf(value);
  const key = kind === 'object' ? discriminator(branches) : undefined;
  if (key !== undefined) {
    const allowed = branches.map((branch) => branch.properties?.[key]?.const);
    const index = allowed.indexOf((value as Record<string, unknown>)[key] as string);
    if (index >= 0) return index;
    return `${child(path, key)}: must be one of ${allowed.map((name) => JSON.stringify(name)).join(', ')}`;
  }
  const ofType = branches.filter((branch) => branch.type === undefined || typeMatches(branch.type, kind));
  return ofType.length === 1 && ofType[0] !== undefined ? branches.indexOf(ofType[0]) : -1;
}

/** A property that every branch fixes with `const` (`grant` of a provider), if there is one. */
function discriminator(branches: readonly JsonShape[]): string | undefined {
  return Object.keys(branches[0]?.properties ?? {}).find((name) =>
    branches.every((branch) => branch.properties?.[name]?.const !== undefined),
  );
}
