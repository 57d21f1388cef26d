/**
 * Every template resource against what exists: each resource's properties, intrinsics resolved
 * (intrinsics.ts), against what its type's reader gets from the service APIs (readers.ts).
 *
 * Objects are compared by the template's keys (an API may answer defaults the template leaves out),
 * arrays element by element, scalars by their text (the APIs answer `"1209600"` for `1209600`), and a
 * JSON string against an object by its content (policies, redrive policies). Whatever cannot be
 * checked fails, naming it: a type with no reader, a property its reader does not answer (unless
 * listed as unobservable, with the reason), an intrinsic function or attribute the resolver lacks.
 */
import { type DeployedStack, resolveIntrinsics, type TemplateResource } from './intrinsics.js';
import { type EmulatorClients, RESOURCE_TYPES, STATELESS_TYPES } from './readers.js';

export interface Verification {
  /** Resources read back and compared. */
  readonly resources: number;
  /** Resources of a type that holds no state (`AWS::CDK::Metadata`), not read. */
  readonly stateless: number;
  /** Top-level template properties compared. */
  readonly properties: number;
  /** Scalar values compared inside them. */
  readonly values: number;
  /** `Type.Property` of the template properties the emulator keeps no trace of, with the reason. */
  readonly unobservable: Readonly<Record<string, string>>;
  /** The properties compared, by type (each named once). */
  readonly compared: Readonly<Record<string, readonly string[]>>;
}

function asJson(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object' && !Array.isArray(value);

interface Found {
  readonly counted: Counted;
  readonly unobservable: Record<string, string>;
  readonly compared: Record<string, Set<string>>;
}

interface Counted {
  resources: number;
  stateless: number;
  properties: number;
  values: number;
}

/** Where `actual` differs from `expected` (a path and both values), else `undefined`; counts scalars. */
export function difference(
  expected: unknown,
  actual: unknown,
  path: string,
  counted: Counted,
): string | undefined {
  if (typeof expected === 'object' && expected !== null) actual = asJson(actual);
  else if (typeof actual === 'object' && actual !== null) expected = asJson(expected);
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual) || actual.length !== expected.length) return show(path, expected, actual);
    return firstDifference(expected.entries(), actual, (index) => `${path}[${index}]`, counted);
  }
  if (isObject(expected)) {
    if (!isObject(actual)) return show(path, expected, actual);
    return firstDifference(Object.entries(expected), actual, (key) => `${path}.${key}`, counted);
  }
  counted.values += 1;
  return actual !== undefined && String(expected) === String(actual)
    ? undefined
    : show(path, expected, actual);
}

function firstDifference<K extends string | number>(
  expected: Iterable<[K, unknown]>,
  actual: Record<K, unknown> | unknown[],
  pathOf: (key: K) => string,
  counted: Counted,
): string | undefined {
  for (const [key, item] of expected) {
    const found = difference(item, (actual as Record<K, unknown>)[key], pathOf(key), counted);
    if (found !== undefined) return found;
  }
  return undefined;
}

function show(path: string, expected: unknown, actual: unknown): string {
  const text = (value: unknown) => (value === undefined ? 'nothing' : JSON.stringify(value).slice(0, 400));
  return `${path}: the template says ${text(expected)}, the deployed resource has ${text(actual)}`;
}

/** Read one resource back and compare it; the problems found. */
async function verifyResource(
  id: string,
  resource: TemplateResource,
  stack: DeployedStack,
  clients: EmulatorClients,
  found: Found,
): Promise<string[]> {
  const where = `${id} (${resource.Type})`;
  const type = RESOURCE_TYPES[resource.Type];
  const physicalId = stack.physical[id];
  if (type === undefined) {
    return [`${where}: the rehearsal cannot verify ${resource.Type}; add a reader to test/deploy/readers.ts`];
  }
  if (physicalId === undefined || physicalId === '') return [`${where}: not in the deployed stack`];
  const expected = resolveIntrinsics(resource.Properties ?? {}, stack) as Record<string, unknown>;
  const actual = await type.read(physicalId, expected, clients);
  found.counted.resources += 1;
  const problems: string[] = [];
  for (const [property, value] of Object.entries(expected)) {
    const reason = type.unobservable?.[property];
    if (reason !== undefined) {
      found.unobservable[`${resource.Type}.${property}`] = reason;
    } else if (property in actual) {
      found.counted.properties += 1;
      found.compared[resource.Type] = (found.compared[resource.Type] ?? new Set()).add(property);
      const differs = difference(value, actual[property], property, found.counted);
      if (differs !== undefined) problems.push(`${where}: ${differs}`);
    } else {
      problems.push(
        `${where}: the rehearsal cannot read ${resource.Type}.${property} back; read it in ` +
          'test/deploy/readers.ts, or list it there as unobservable with the reason',
      );
    }
  }
  return problems;
}

/**
 * Read every resource of `stack.template` back and compare it with its template properties.
 * @throws Error listing every difference and everything that could not be verified
 */
export async function verifyDeployedStack(
  stack: DeployedStack,
  clients: EmulatorClients,
): Promise<Verification> {
  const found: Found = {
    counted: { resources: 0, stateless: 0, properties: 0, values: 0 },
    unobservable: {},
    compared: {},
  };
  const problems = await Promise.all(
    Object.entries(stack.template.Resources).map(([id, resource]) => {
      if (resource.Type in STATELESS_TYPES) {
        found.counted.stateless += 1;
        return [];
      }
      return verifyResource(id, resource, stack, clients, found).catch((error: Error) => [
        `${id} (${resource.Type}): ${error.message}`,
      ]);
    }),
  );
  const all = problems.flat().sort();
  if (all.length > 0) throw new Error(`${all.length} resource problem(s):\n${all.join('\n')}`);
  const compared = Object.fromEntries(
    Object.entries(found.compared).map(([type, properties]) => [type, [...properties].sort()]),
  );
  return { ...found.counted, unobservable: found.unobservable, compared };
}
