/**
 * A small model of AWS policy evaluation over a synthesized template, for the infra tests of issue 15
 * (test/infra/security.test.ts). moto 5.2.1 cannot be used for these checks: with `reset-auth` it
 * checks the IAM *actions* of a caller's identity policies against resource `*` for Secrets Manager,
 * never evaluates a secret's resource policy (it stores it: `put_resource_policy`), and of a KMS key
 * policy it checks only explicit Deny statements on `kms:DescribeKey` (moto/kms/policy_validator.py).
 *
 * What is modelled (IAM User Guide, "Policy evaluation logic", same account and cross account):
 * - an explicit Deny in any policy that applies wins;
 * - same account: an Allow in the identity policies or in the resource policy is enough, except for
 *   KMS, where the key policy must allow, either the principal itself or the account (then the
 *   identity policies must allow too);
 * - another account: both the identity policies and the resource (or key) policy must allow.
 * Elements: Effect, Action/NotAction, Resource/NotResource, Principal (`*`, an ARN, an account root,
 * a service), Condition with the String/Arn operators (and their Not/IfExists forms) over the keys the
 * request carries; a missing key fails a positive operator and satisfies a negated one. Wildcards:
 * `*` any run of characters (across `/` too), `?` exactly one.
 */

/** A policy document as it stands in a resolved template. */
export interface PolicyDocument {
  readonly Statement: readonly Statement[];
}

export interface Statement {
  readonly Sid?: string;
  readonly Effect: 'Allow' | 'Deny';
  readonly Action?: string | readonly string[];
  readonly NotAction?: string | readonly string[];
  readonly Resource?: string | readonly string[];
  readonly NotResource?: string | readonly string[];
  readonly Principal?: '*' | Record<string, string | readonly string[]>;
  readonly Condition?: Record<string, Record<string, string | readonly string[]>>;
}

/** One request: who, what, on which resource, with which context keys. */
export interface Request {
  /** `aws:PrincipalArn`: the role's ARN (not its session's). */
  readonly principalArn: string;
  readonly action: string;
  readonly resource: string;
  /** Context keys besides `aws:PrincipalArn` (e.g. `kms:ViaService`, `kms:EncryptionContext:SecretARN`). */
  readonly context?: Readonly<Record<string, string>>;
}

const list = (value: string | readonly string[] | undefined): readonly string[] =>
  value === undefined ? [] : typeof value === 'string' ? [value] : value;

/** IAM wildcard matching: `*` any run of characters, `?` one character; case-sensitive. */
export function iamMatch(pattern: string, value: string, ignoreCase = false): boolean {
  const source = pattern
    .split('')
    .map((char) => (char === '*' ? '.*' : char === '?' ? '.' : char.replace(/[.+^${}()|[\]\\/]/g, '\\$&')))
    .join('');
  return new RegExp(`^${source}$`, ignoreCase ? 'is' : 's').test(value);
}

function accountOf(arn: string): string {
  return arn.split(':')[4] ?? '';
}

function principalMatches(principal: Statement['Principal'], request: Request): boolean {
  if (principal === undefined) return true; // identity policy
  if (principal === '*') return true;
  return list(principal.AWS).some(
    (entry) =>
      entry === '*' ||
      entry === request.principalArn ||
      entry === `arn:aws:iam::${accountOf(request.principalArn)}:root` ||
      entry === accountOf(request.principalArn),
  );
}

/** Whether the principal element names the caller itself (not its account). */
function namesPrincipal(principal: Statement['Principal'], request: Request): boolean {
  if (principal === undefined || principal === '*') return principal === '*';
  return list(principal.AWS).some((entry) => entry === '*' || entry === request.principalArn);
}

const OPERATORS: Record<string, (pattern: string, value: string) => boolean> = {
  StringEquals: (pattern, value) => pattern === value,
  StringEqualsIgnoreCase: (pattern, value) => pattern.toLowerCase() === value.toLowerCase(),
  StringLike: (pattern, value) => iamMatch(pattern, value),
  ArnEquals: (pattern, value) => pattern === value,
  ArnLike: (pattern, value) => iamMatch(pattern, value),
};

function conditionHolds(operator: string, key: string, values: readonly string[], request: Request): boolean {
  const context: Record<string, string> = { 'aws:PrincipalArn': request.principalArn, ...request.context };
  const ifExists = operator.endsWith('IfExists');
  const base = ifExists ? operator.slice(0, -'IfExists'.length) : operator;
  const negated = /^(String|Arn)Not/.test(base);
  const positive = base.replace(/^(String|Arn)Not/, '$1');
  const test = OPERATORS[positive];
  if (test === undefined) throw new Error(`iam-evaluation: condition operator ${operator} is not modelled`);
  const value = context[key];
  if (value === undefined) return ifExists || negated;
  const any = values.some((pattern) => test(pattern, value));
  return negated ? !any : any;
}

function statementApplies(statement: Statement, request: Request): boolean {
  const actions = statement.NotAction === undefined ? list(statement.Action) : list(statement.NotAction);
  const actionHit = actions.some((pattern) => iamMatch(pattern, request.action, true));
  if (statement.NotAction === undefined ? !actionHit : actionHit) return false;
  const resources =
    statement.NotResource === undefined ? list(statement.Resource) : list(statement.NotResource);
  const resourceHit = resources.some((pattern) => iamMatch(pattern, request.resource));
  if (statement.NotResource === undefined ? !resourceHit : resourceHit) return false;
  if (!principalMatches(statement.Principal, request)) return false;
  return Object.entries(statement.Condition ?? {}).every(([operator, keys]) =>
    Object.entries(keys).every(([key, values]) => conditionHolds(operator, key, list(values), request)),
  );
}

function verdict(documents: readonly PolicyDocument[], request: Request, effect: 'Allow' | 'Deny') {
  return documents.flatMap((document) =>
    document.Statement.filter(
      (statement) => statement.Effect === effect && statementApplies(statement, request),
    ),
  );
}

/** The policies that apply to one request. */
export interface Policies {
  /** The caller's identity-based policies (inline and managed). */
  readonly identity: readonly PolicyDocument[];
  /** The resource's resource-based policy (a secret's resource policy, a key policy), if any. */
  readonly resource?: PolicyDocument;
  /** The resource's account. */
  readonly resourceAccount: string;
  /** A KMS key policy: the only way in, directly or by delegating to the account's IAM policies. */
  readonly isKeyPolicy?: boolean;
}

/** `true` when the request is allowed. */
export function isAllowed(request: Request, policies: Policies): boolean {
  const resource = policies.resource === undefined ? [] : [policies.resource];
  if (verdict([...policies.identity, ...resource], request, 'Deny').length > 0) return false;
  const identityAllows = verdict(policies.identity, request, 'Allow').length > 0;
  const resourceAllows = verdict(resource, request, 'Allow');
  const sameAccount = accountOf(request.principalArn) === policies.resourceAccount;
  if (policies.isKeyPolicy) {
    if (resourceAllows.some((statement) => namesPrincipal(statement.Principal, request))) return true;
    return resourceAllows.length > 0 && identityAllows;
  }
  // A resource policy that names the account (its root) delegates to the identity policies; one that
  // names the caller (or `*`) allows by itself within the account.
  if (sameAccount)
    return identityAllows || resourceAllows.some((statement) => namesPrincipal(statement.Principal, request));
  return identityAllows && resourceAllows.length > 0;
}

/** What a template's unresolved values become in the tests' account and region. */
export interface ResolveContext {
  readonly account: string;
  readonly region: string;
  /** Logical id → the value of its `Ref`. */
  readonly refs: Readonly<Record<string, string>>;
  /** `<logical id>.<attribute>` → the value of its `Fn::GetAtt`. */
  readonly attributes?: Readonly<Record<string, string>>;
}

/** Resolve `Ref`, `Fn::GetAtt` and `Fn::Join` of a template value (unknown ones to `<id>`). */
export function resolveValue(value: unknown, context: ResolveContext): unknown {
  if (Array.isArray(value)) return value.map((item) => resolveValue(item, context));
  if (value === null || typeof value !== 'object') return value;
  const object = value as Record<string, unknown>;
  if ('Ref' in object) return resolveRef(String(object.Ref), context);
  if ('Fn::GetAtt' in object) {
    const [id, attribute] = object['Fn::GetAtt'] as [string, string];
    // Anything the tests do not name stays recognisable, and matches no ARN they build.
    return context.attributes?.[`${id}.${attribute}`] ?? `<${id}.${attribute}>`;
  }
  if ('Fn::Join' in object) {
    const [separator, parts] = object['Fn::Join'] as [string, unknown[]];
    return parts.map((part) => String(resolveValue(part, context))).join(separator);
  }
  return Object.fromEntries(Object.entries(object).map(([key, item]) => [key, resolveValue(item, context)]));
}

function resolveRef(id: string, context: ResolveContext): string {
  const pseudo: Record<string, string> = {
    'AWS::Partition': 'aws',
    'AWS::Region': context.region,
    'AWS::AccountId': context.account,
    'AWS::URLSuffix': 'amazonaws.com',
  };
  return pseudo[id] ?? context.refs[id] ?? `<${id}>`;
}
