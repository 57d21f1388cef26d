/**
 * Who may read which provider's token through the read function: the caller's IAM identity (the ARN
 * STS states for its caller proof; only with `trustDirectInvoke`, the `userArn` of a Function URL
 * event) against the provider's `consumers`. Pure; the handler only passes the ARN in.
 */

/**
 * A role, reduced to what both its IAM ARN and its STS assumed-role ARN carry: partition, account
 * and name. The role's path is not in an assumed-role ARN, so it cannot take part in the match.
 * IAM role names are unique without regard to case, so the name is lower-cased.
 */
export type RoleKey = string & { readonly __brand: 'RoleKey' };

export type CallerParse =
  | { readonly kind: 'role'; readonly key: RoleKey }
  /** A well-formed ARN that is not a role (an IAM user, the root user, a federated user). */
  | { readonly kind: 'other' }
  | { readonly kind: 'malformed' };

const NAME = String.raw`[\w+=,.@-]{1,64}`;
const SESSION = String.raw`[\w+=,.@-]{2,64}`;
const PARTITION = 'aws(?:-[a-z]+)*';
const ASSUMED_ROLE = new RegExp(`^arn:(${PARTITION}):sts::(\\d{12}):assumed-role/(${NAME})/${SESSION}$`);
const IAM_ROLE = new RegExp(`^arn:(${PARTITION}):iam::(\\d{12}):role/(?:[\\w+=,.@-]+/)*(${NAME})$`);
const OTHER_PRINCIPAL = new RegExp(
  `^arn:${PARTITION}:(?:iam|sts)::\\d{12}:(?:root|user/[\\w+=,.@/-]{1,512}|federated-user/[\\w+=,.@-]{2,64})$`,
);

function roleKey(partition: string, account: string, name: string): RoleKey {
  return `${partition}:${account}:role/${name.toLowerCase()}` as RoleKey;
}

/** Reduce a caller ARN (`arn:aws:sts::<account>:assumed-role/<role>/<session>` or an IAM role ARN). */
export function parseCallerArn(arn: string): CallerParse {
  const assumed = ASSUMED_ROLE.exec(arn) ?? IAM_ROLE.exec(arn);
  if (assumed !== null) {
    const [, partition, account, name] = assumed;
    if (partition !== undefined && account !== undefined && name !== undefined) {
      return { kind: 'role', key: roleKey(partition, account, name) };
    }
  }
  return OTHER_PRINCIPAL.test(arn) ? { kind: 'other' } : { kind: 'malformed' };
}

/** The verdict for one request; the reasons are for logs, the caller only ever sees "forbidden". */
export type AccessDecision =
  | { readonly allowed: true; readonly caller: RoleKey }
  | {
      readonly allowed: false;
      readonly reason: 'missing_identity' | 'invalid_identity' | 'not_a_role' | 'not_a_consumer';
    };

/** Role ARNs allowed per provider (the config's `consumers` plus grants made in code). */
export type ConsumersByProvider = ReadonlyMap<string, readonly string[]>;

/**
 * The read function's access rules. A caller not listed for a provider is refused the same way
 * whether or not the provider exists, so a refusal tells nothing about other providers.
 */
export class AccessPolicy {
  readonly #providersByRole = new Map<RoleKey, Set<string>>();

  /** @throws Error naming the provider and entry when a consumer is not a role ARN (a deploy bug). */
  constructor(consumers: ConsumersByProvider) {
    for (const [provider, arns] of consumers) {
      for (const arn of arns) {
        const parsed = parseCallerArn(arn);
        if (parsed.kind !== 'role') {
          throw new Error(`Consumer "${arn}" of provider "${provider}" is not an IAM role ARN`);
        }
        const providers = this.#providersByRole.get(parsed.key) ?? new Set<string>();
        providers.add(provider);
        this.#providersByRole.set(parsed.key, providers);
      }
    }
  }

  /** May the caller with this ARN (`undefined`: the request carried none) read `provider`? */
  decide(callerArn: string | undefined, provider: string): AccessDecision {
    if (callerArn === undefined || callerArn === '') return { allowed: false, reason: 'missing_identity' };
    const parsed = parseCallerArn(callerArn);
    if (parsed.kind === 'malformed') return { allowed: false, reason: 'invalid_identity' };
    if (parsed.kind === 'other') return { allowed: false, reason: 'not_a_role' };
    return this.#providersByRole.get(parsed.key)?.has(provider) === true
      ? { allowed: true, caller: parsed.key }
      : { allowed: false, reason: 'not_a_consumer' };
  }
}
