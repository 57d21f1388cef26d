/**
 * The configuration as the functions receive it from the construct: `parseRefresherConfig`'s output
 * (defaults applied, durations in seconds, GitHub ids as strings), validated in full at synth time.
 * The functions check only its shape, with the JSON Schema generated from the one zod schema
 * (`npm run generate`), so that their bundles carry no zod. A hand-written configuration (`npm start`,
 * the CLI) goes through the full schema instead (`config-schema.ts`).
 */
import { ConfigError, type RefresherConfig } from './config.js';
import { DEPLOYED_CONFIG_SCHEMA } from './deployed-config-schema.generated.js';
import { shapeParser } from './json-shape.js';

/**
 * How a function turns the configuration's JSON into a {@link RefresherConfig}.
 * @throws ConfigError listing every problem, each naming the field.
 */
export type ConfigParser = (input: unknown, source: string) => RefresherConfig;

const deployedConfig = shapeParser<RefresherConfig>(DEPLOYED_CONFIG_SCHEMA, 'config');

/**
 * Check a delivered (normalized) configuration's shape: the functions' default {@link ConfigParser}.
 * The synth-time rules that are not about shape (lead times, unique names, the write rate) are not
 * checked again.
 * @throws ConfigError listing every problem by its path (`providers[0].tokenUrl: must be a URL`),
 *   never a value.
 */
export const parseDeployedConfig: ConfigParser = (input, source) => {
  const result = deployedConfig.safeParse(input);
  if (result.success) return result.data;
  throw new ConfigError(
    `Invalid ${source} (the construct delivers it normalized, as parseRefresherConfig returns it):\n  - ${result.problems.join('\n  - ')}`,
    result.problems,
  );
};
