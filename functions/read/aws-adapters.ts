/**
 * The read function's AWS adapters, on the transport `aws-transport.ts` chooses: the token stores'
 * read side (`GetSecretValue` of the token secret, `GetItem` of the token table) and the on-demand
 * refresh (`Invoke` of the refresh function).
 *
 * - `fetch` (the default): SDK-free signed requests; no AWS SDK module is loaded, at cold start or
 *   later (credentials come from the Lambda environment).
 * - `sdk` (`TOKEN_REFRESHER_AWS_TRANSPORT=sdk`): the SDK's clients, each imported on its first use.
 *
 * No module reached from here imports the SDK statically, so the bundle loads none at start.
 */

import {
  type AwsTransport,
  type AwsTransportPlan,
  FETCH_ATTEMPT_TIMEOUT_MS,
  planAwsTransport,
} from '../aws/aws-transport.js';
import type { AwsClientConfig } from '../aws/client-config.js';
import { DynamoDbTokenStore } from '../aws/dynamodb-token-store.js';
import { FetchRefreshTrigger } from '../aws/fetch-refresh-trigger.js';
import { FetchTokenItemReader } from '../aws/fetch-token-item-reader.js';
import { LambdaRefreshTrigger } from '../aws/refresh-invoker.js';
import { fetchGetSecretValue, sdkGetSecretValue, TokenSecretReader } from '../aws/token-secret-reader.js';
import { DYNAMODB_SERVICE, SECRETS_MANAGER_SERVICE } from '../client/aws-endpoint.js';
import { type HttpFetch, nodeHttpFetch } from '../client/http.js';
import { AwsJsonClient } from '../client/signed-fetch.js';
import type { ProviderConfig, TokenStoreKind } from '../core/config.js';
import { StoreError } from '../core/errors.js';
import type { Clock, RefreshTrigger, TokenStore } from '../core/ports.js';

/** What the read path needs of a token store. */
export type TokenReadPort = Pick<TokenStore, 'readCurrent'>;

export interface ReadAdaptersOptions {
  readonly providers: readonly Pick<ProviderConfig, 'name' | 'tokenStore'>[];
  readonly secretPrefix: string;
  /** Set when a provider keeps its token in DynamoDB. */
  readonly tokenTableName: string | undefined;
  readonly refreshFunctionName: string;
  readonly clientConfig: AwsClientConfig;
  /** `undefined`: `fetch` where it can be used, else `sdk` (see `planAwsTransport`). */
  readonly transport: AwsTransport | undefined;
  /** Region, endpoints and credentials of the `fetch` transport, as the SDK reads them. */
  readonly environment: Readonly<Record<string, string | undefined>>;
  readonly clock: Clock;
  /** The HTTP of the `fetch` transport. @default over `node:http(s)` */
  readonly fetch?: HttpFetch;
  /** An on-demand trigger to use instead of invoking the refresh function (tests, the local runner). */
  readonly trigger?: RefreshTrigger;
}

export interface ReadAdapters {
  readonly tokens: TokenReadPort;
  readonly trigger: RefreshTrigger;
  readonly plan: AwsTransportPlan;
}

/**
 * Build the adapters once per container.
 * @throws Error when `fetch` is asked for and cannot be used, and StoreError `token_store_missing`
 *   when a provider's store is not composed (both at cold start)
 */
export function readAdapters(options: ReadAdaptersOptions): ReadAdapters {
  const { clientConfig, tokenTableName } = options;
  const plan = planAwsTransport(options);
  if (plan.kind === 'sdk') {
    return {
      plan,
      tokens: perProviderReader(options.providers, {
        'secrets-manager': new TokenSecretReader({
          getSecretValue: sdkGetSecretValue({ clientConfig }),
          secretPrefix: options.secretPrefix,
        }),
        // Loads its SDK on the first read (dynamodb-token-store.ts).
        ...(tokenTableName === undefined
          ? {}
          : { dynamodb: new DynamoDbTokenStore({ clientConfig, tableName: tokenTableName }) }),
      }),
      trigger:
        options.trigger ??
        new LambdaRefreshTrigger({ clientConfig, functionName: options.refreshFunctionName }),
    };
  }
  const fetch = options.fetch ?? nodeHttpFetch;
  const now = () => options.clock.now();
  const jsonClient = (service: typeof SECRETS_MANAGER_SERVICE, endpoint: URL) =>
    new AwsJsonClient(service, {
      region: plan.region,
      endpoint,
      credentials: plan.credentials,
      fetch,
      timeoutMs: FETCH_ATTEMPT_TIMEOUT_MS,
      maxAttempts: plan.maxAttempts,
      now,
    });
  return {
    plan,
    tokens: perProviderReader(options.providers, {
      'secrets-manager': new TokenSecretReader({
        getSecretValue: fetchGetSecretValue(
          jsonClient(SECRETS_MANAGER_SERVICE, plan.endpoints.secretsManager),
        ),
        secretPrefix: options.secretPrefix,
      }),
      ...(tokenTableName === undefined
        ? {}
        : {
            dynamodb: new FetchTokenItemReader({
              client: jsonClient(DYNAMODB_SERVICE, plan.endpoints.dynamodb),
              tableName: tokenTableName,
            }),
          }),
    }),
    trigger:
      options.trigger ??
      new FetchRefreshTrigger({
        functionName: options.refreshFunctionName,
        region: plan.region,
        endpoint: plan.endpoints.lambda,
        credentials: plan.credentials,
        fetch,
        now,
      }),
  };
}

/**
 * Each provider's reads go to the store its `tokenStore` names, as `PerProviderTokenStore`
 * (core/token-stores.ts) routes the refresh function's, for a reader that never writes.
 * @throws StoreError `token_store_missing` when a provider names a store that is not given
 */
export function perProviderReader(
  providers: readonly Pick<ProviderConfig, 'name' | 'tokenStore'>[],
  readers: Partial<Readonly<Record<TokenStoreKind, TokenReadPort>>>,
): TokenReadPort {
  const kinds = new Map(providers.map((provider) => [provider.name, provider.tokenStore]));
  const missing = [...new Set(kinds.values())].filter((kind) => readers[kind] === undefined);
  if (missing.length > 0) throw missingStore(`tokenStore ${missing.join(', ')}`);
  return {
    readCurrent: async (provider) => {
      // A provider the configuration does not name goes to the token secret.
      const reader = readers[kinds.get(provider) ?? 'secrets-manager'];
      if (reader === undefined) throw missingStore(`provider "${provider}"`);
      return reader.readCurrent(provider);
    },
  };
}

function missingStore(what: string): StoreError {
  return new StoreError(`No token store was composed for ${what}`, 'token_store_missing', 'permanent');
}
