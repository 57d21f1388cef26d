/**
 * The JSON Schemas the functions check values with at run time, besides the generated configuration
 * schema: every one of them must use only keywords the checker interprets (deployed-config.test.ts).
 * A new runtime schema is added here.
 */
import type { JsonShape } from '../../../functions/core/json-shape.js';

export const RUNTIME_SCHEMAS: Readonly<Record<string, JsonShape>> = {};
