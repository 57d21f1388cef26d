/**
 * The deploy-only check of Secrets Manager's write rate (docs/limits.md, "Secrets Manager write
 * rate"): `cdk synth` refuses what it finds, `validate-config` reports it in its own section, and
 * `npm start`, the CLI and the functions do not apply it. Kept apart from `config.ts`, which
 * re-exports {@link secretsManagerWriteRateProblems} for its importers.
 */
import {
  effectiveRefreshBefore,
  MIN_REFRESH_BEFORE_SECONDS,
  MIN_SECRET_WRITE_INTERVAL_SECONDS,
  type ProviderConfig,
  type RefresherConfig,
} from './config.js';
import { capabilitiesOf } from './grants.js';
import { onDemandWriteRateProblems } from './on-demand-config.js';

/**
 * One message per provider whose writes to a secret would come more often than every
 * {@link MIN_SECRET_WRITE_INTERVAL_SECONDS}, with only the fixes that work for that provider, and one
 * per provider allowed more on-demand refreshes an hour than Secrets Manager's write rate
 * (`on-demand-config.ts`). A provider with `tokenStore: "dynamodb"` writes no token secret: only a
 * grant that rotates its refresh token (written to the credentials secret at every refresh) is
 * checked then.
 */
export function secretsManagerWriteRateProblems(config: RefresherConfig): string[] {
  return [...tokenWriteRateProblems(config), ...onDemandWriteRateProblems(config)];
}

function tokenWriteRateProblems(config: RefresherConfig): string[] {
  return config.providers.flatMap((provider, index) => {
    const rotates = capabilitiesOf(provider).rotatesCredential;
    if (provider.tokenStore === 'dynamodb' && !rotates) return [];
    const lifetime = provider.expectedLifetime;
    const lead = effectiveRefreshBefore(provider.refreshBefore, lifetime);
    const interval = lifetime - lead;
    if (interval >= MIN_SECRET_WRITE_INTERVAL_SECONDS) return [];
    const written =
      provider.tokenStore === 'dynamodb'
        ? 'rotated refresh tokens would be written to the credentials secret'
        : 'tokens would be written';
    return [
      `providers[${index}] (${provider.name}): ${written} every ${interval} s ` +
        `(expectedLifetime ${lifetime} s − effective refreshBefore ${lead} s); Secrets Manager allows about one ` +
        `write every ${MIN_SECRET_WRITE_INTERVAL_SECONDS} s per secret. ${writeRateFixes(provider, rotates)}`,
    ];
  });
}

/** The fixes of a write-rate problem that the user can actually apply, in order of preference. */
function writeRateFixes(provider: ProviderConfig, rotates: boolean): string {
  const { refreshBefore, expectedLifetime: lifetime } = provider;
  const fixes: string[] = [];
  // The lead can only go down to min(60 s, lifetime / 2); lowering refreshBefore helps only if that
  // floor already leaves a long enough interval.
  const largestLead = lifetime - MIN_SECRET_WRITE_INTERVAL_SECONDS;
  if (largestLead >= effectiveRefreshBefore(MIN_REFRESH_BEFORE_SECONDS, lifetime)) {
    fixes.push(
      `set refreshBefore to at most ${largestLead} s (it is ${refreshBefore} s; less lead leaves less time to retry a failed refresh)`,
    );
  }
  if (!rotates) {
    fixes.push('set tokenStore: "dynamodb" (the token in a DynamoDB item, written as often as needed)');
  }
  const shortestLifetime = MIN_SECRET_WRITE_INTERVAL_SECONDS + MIN_REFRESH_BEFORE_SECONDS;
  fixes.push(
    `request longer-lived tokens from the provider (at least ${shortestLifetime} s with refreshBefore ${MIN_REFRESH_BEFORE_SECONDS} s)`,
    `if the provider's tokens really live longer than ${lifetime} s, set expectedLifetime to their real lifetime`,
  );
  const why = rotates
    ? ` tokenStore: "dynamodb" does not help a ${provider.grant} grant: every refresh may write a ` +
      'rotated refresh token to the credentials secret, which stays in Secrets Manager.'
    : '';
  return `Fix: ${fixes.join('; or ')}.${why}`;
}
