/**
 * The grammar of the IAM principal ARNs a configuration or the construct's props may name: the
 * providers' `consumers` (IAM roles) and the construct's `breakGlassPrincipals` (IAM roles or users).
 *
 * One grammar for every part: an ARN this accepts as a role is one the read function's access
 * policy (`access.ts`, `parseCallerArn`) reduces to a role, so a configuration that passes
 * `cdk synth` and `validate-config` never fails the read function at cold start (issue 15,
 * finding 10: `arn:aws:iam::123456789012:role/x/` used to pass the schema and then throw there).
 *
 * `arn:<partition>:iam::<12-digit account>:<role|user>/[<path>/]<name>`: IAM ARNs carry no region;
 * a name is 1–64 of `[A-Za-z0-9_+=,.@-]`; each path segment is one or more of those (IAM User Guide,
 * "IAM identifiers" and "IAM and AWS STS quotas"). Each problem says what is wrong and how to fix it.
 */

/** What an IAM principal ARN may name here. */
export type IamPrincipalKind = 'role' | 'user';

const PARTITION = /^aws(?:-[a-z]+)*$/;
const ACCOUNT = /^\d{12}$/;
const NAME = /^[\w+=,.@-]{1,64}$/;
const SEGMENT = /^[\w+=,.@-]+$/;
/** IAM limits a path to 512 characters. */
const MAX_PATH_LENGTH = 512;

/** The shape every message starts with, so a reader sees the expected form next to the problem. */
function expected(kinds: readonly IamPrincipalKind[]): string {
  const forms = kinds.map((kind) => `arn:aws:iam::<account>:${kind}/[<path>/]<name>`).join(' or ');
  return `must be an IAM ${kinds.join(' or ')} ARN (${forms})`;
}

interface ArnParts {
  readonly partition: string;
  readonly service: string;
  readonly region: string;
  readonly account: string;
  readonly resource: string;
}

function split(value: string): ArnParts | undefined {
  const parts = value.split(':');
  if (parts.length < 6 || parts[0] !== 'arn') return undefined;
  const [, partition = '', service = '', region = '', account = ''] = parts;
  return { partition, service, region, account, resource: parts.slice(5).join(':') };
}

/** The problem with the part after `<kind>/`: the optional path and the name. */
function pathProblem(rest: string, kind: IamPrincipalKind): string | undefined {
  if (rest === '') return `nothing follows "${kind}/": add the ${kind}'s name`;
  if (rest.endsWith('/')) {
    return `it ends with "/", so it names no ${kind}: remove the trailing "/" (the ${kind}'s name comes last)`;
  }
  if (rest.startsWith('/') || rest.includes('//')) {
    return 'it has an empty path segment ("//"): write the path as <segment>/<segment>/ with no empty segment';
  }
  const segments = rest.split('/');
  const name = segments.pop() ?? '';
  if (!NAME.test(name)) {
    return `the ${kind} name "${name}" must be 1 to 64 letters, digits or _+=,.@-`;
  }
  const path = segments.join('/');
  if (path.length + 2 > MAX_PATH_LENGTH || !segments.every((segment) => SEGMENT.test(segment))) {
    return `the path "/${path}/" must be segments of letters, digits or _+=,.@- (at most ${MAX_PATH_LENGTH} characters)`;
  }
  return undefined;
}

/** The problem with an ARN that is not IAM's: a session ARN says which role it came from. */
function serviceProblem(parts: ArnParts): string {
  const session = /^assumed-role\/([^/]+)\//.exec(parts.resource);
  if (parts.service === 'sts' && session !== null) {
    return (
      `it is an STS session ARN: name the role itself, ` +
      `arn:${parts.partition}:iam::${parts.account}:role/<path if any>/${session[1]}`
    );
  }
  return `it is a "${parts.service}" ARN, not an IAM one: name the IAM role (for a Lambda function, its execution role)`;
}

/** The problem with an ARN whose kind (after `:`) is not an accepted one. */
function kindProblem(resource: string, kinds: readonly IamPrincipalKind[]): string {
  const kind = resource.split('/')[0] ?? '';
  const allowed = kinds.map((each) => `"${each}/"`).join(' or ');
  return kind === 'root' || kind === 'user' || kind === 'group' || kind === 'policy'
    ? `it names an IAM ${kind}, and only ${allowed} ARNs are accepted here`
    : `its resource must start with ${allowed}`;
}

/** The first rule `parts` breaks, or `undefined`. */
function partsProblem(parts: ArnParts, kinds: readonly IamPrincipalKind[]): string | undefined {
  if (!PARTITION.test(parts.partition)) {
    return `partition "${parts.partition}" is not an AWS partition (aws, aws-cn, aws-us-gov, ...)`;
  }
  if (parts.service !== 'iam') return serviceProblem(parts);
  if (parts.region !== '')
    return `IAM ARNs have no region: remove "${parts.region}" (arn:aws:iam::<account>:...)`;
  if (!ACCOUNT.test(parts.account)) return `the account "${parts.account}" must be 12 digits`;
  const kind = kinds.find((each) => parts.resource.startsWith(`${each}/`));
  if (kind === undefined) return kindProblem(parts.resource, kinds);
  return pathProblem(parts.resource.slice(kind.length + 1), kind);
}

/**
 * Why `value` is not an IAM principal ARN of one of `kinds`, or `undefined` when it is one. The
 * message starts with the expected form and ends with the fix.
 */
export function iamPrincipalArnProblem(
  value: string,
  kinds: readonly IamPrincipalKind[] = ['role'],
): string | undefined {
  const problem = structuralProblem(value) ?? partsOrShapeProblem(value, kinds);
  return problem === undefined ? undefined : `${expected(kinds)}: ${problem}`;
}

function structuralProblem(value: string): string | undefined {
  if (value.trim() !== value || /\s/.test(value)) return 'it contains white space: remove it';
  if (value.includes('*') || value.includes('?')) {
    return 'wildcards are not accepted: list each principal by its full ARN';
  }
  return undefined;
}

function partsOrShapeProblem(value: string, kinds: readonly IamPrincipalKind[]): string | undefined {
  const parts = split(value);
  if (parts === undefined)
    return 'it does not have the arn:<partition>:<service>:<region>:<account>:<resource> shape';
  return partsProblem(parts, kinds);
}

/** Why `value` is not an IAM role ARN (`arn:aws:iam::<account>:role/[<path>/]<name>`), or `undefined`. */
export function iamRoleArnProblem(value: string): string | undefined {
  return iamPrincipalArnProblem(value, ['role']);
}
