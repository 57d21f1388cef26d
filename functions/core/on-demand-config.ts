/**
 * The configuration rules of `onDemandRefreshesPerHour` (docs/limits.md, "On-demand refreshes"):
 * the schema's bounds (synth time, `validate-config` and the functions alike) and the deploy-only
 * check beside `secretsManagerWriteRateProblems`. Kept apart from `on-demand-budget.ts` so that the
 * config schema imports nothing that imports it back.
 */
import type { ProviderConfig, RefresherConfig } from './config.js';
import { capabilitiesOf } from './grants.js';

/**
 * Default `onDemandRefreshesPerHour`. With the default schedule (a 1 h token refreshed 5 min before
 * expiry: about 1.1 writes an hour) a provider stays within Secrets Manager's one write per 10 minutes
 * (6 an hour) even when every on-demand refresh is used.
 */
export const DEFAULT_ON_DEMAND_REFRESHES_PER_HOUR = 4;
/** Secrets Manager's guidance, one write per secret every 10 minutes, as writes per hour. */
export const MAX_SECRET_WRITES_PER_HOUR = 6;
/** The schema's bounds of `onDemandRefreshesPerHour`. */
export const MIN_ON_DEMAND_REFRESHES_PER_HOUR = 1;
export const MAX_ON_DEMAND_REFRESHES_PER_HOUR = 60;

/**
 * The schema's check of one provider's `onDemandRefreshesPerHour` (synth time, `validate-config` and
 * the functions alike): a message naming the bound and the fix, or `undefined`.
 */
export function onDemandRefreshesPerHourProblem(
  provider: Pick<ProviderConfig, 'grant' | 'onDemandRefreshesPerHour'>,
): string | undefined {
  const perHour = provider.onDemandRefreshesPerHour;
  if (perHour < MIN_ON_DEMAND_REFRESHES_PER_HOUR || perHour > MAX_ON_DEMAND_REFRESHES_PER_HOUR) {
    return (
      `is ${perHour}; it must be between ${MIN_ON_DEMAND_REFRESHES_PER_HOUR} and ` +
      `${MAX_ON_DEMAND_REFRESHES_PER_HOUR} (on-demand refreshes per provider and hour)`
    );
  }
  if (capabilitiesOf(provider).rotatesCredential && perHour > MAX_SECRET_WRITES_PER_HOUR) {
    return (
      `is ${perHour}; a ${provider.grant} grant writes its rotated refresh token to the credentials secret at ` +
      `every refresh, and Secrets Manager allows about one write every 10 minutes. Fix: set ` +
      `onDemandRefreshesPerHour to ${MAX_SECRET_WRITES_PER_HOUR} or less`
    );
  }
  return undefined;
}

/**
 * The deploy-only check (beside `secretsManagerWriteRateProblems`): with tokens in Secrets Manager,
 * no grant may be given more than {@link MAX_SECRET_WRITES_PER_HOUR} on-demand refreshes an hour
 * (with `tokenStore: "dynamodb"` the schema's bound for rotating grants is what remains).
 */
export function onDemandWriteRateProblems(config: RefresherConfig): string[] {
  return config.providers.flatMap((provider, index) =>
    provider.tokenStore === 'dynamodb' || provider.onDemandRefreshesPerHour <= MAX_SECRET_WRITES_PER_HOUR
      ? []
      : [
          `providers[${index}] (${provider.name}).onDemandRefreshesPerHour: is ${provider.onDemandRefreshesPerHour}; ` +
            'every on-demand refresh writes the token secret, and Secrets Manager allows about one write every ' +
            `10 minutes (${MAX_SECRET_WRITES_PER_HOUR} an hour) per secret. Fix: set onDemandRefreshesPerHour to ` +
            `${MAX_SECRET_WRITES_PER_HOUR} or less (the schedule's own writes come on top).`,
        ],
  );
}
