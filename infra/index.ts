/**
 * The public API of `@token-refresher/cdk` (its `exports["."]`, compiled by `infra/packaging/cdk.ts`):
 * the `TokenRefresher` construct and its props, the ready-made stack with the outputs the operator
 * CLI reads, and the configuration's types and schema check (the one zod schema synth and the
 * functions share). The repository's own CDK app (`app.ts`) is not part of it.
 */

export {
  ConfigError,
  type GrantType,
  type ProviderConfig,
  type ProviderConfigInput,
  type RefresherConfig,
  type RefresherConfigInput,
} from '../functions/core/config.js';
export { parseRefresherConfig } from '../functions/core/config-schema.js';
export { DEFAULT_SECRET_PREFIX, STACK_OUTPUTS } from '../functions/core/names.js';
export {
  providerNameChunks,
  readConfigFile,
  TokenRefresherStack,
  type TokenRefresherStackProps,
} from './stack.js';
export * from './token-refresher.js';
