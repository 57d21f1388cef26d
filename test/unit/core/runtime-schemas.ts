/**
 * The JSON Schemas the functions check values with at run time, besides the generated configuration
 * schema: every one of them must use only keywords the checker interprets (deployed-config.test.ts).
 * A new runtime schema is added here.
 */
import type { JsonShape } from '../../../functions/core/json-shape.js';
import { TOKEN_RECORD_SCHEMA } from '../../../functions/core/token-record.js';
import { PROOF_SCHEMA } from '../../../functions/read/caller-proof.js';
import { REFRESH_EVENT_SCHEMA } from '../../../functions/refresh/app.js';
import { CREDENTIALS_CHANGE_EVENT_SCHEMA } from '../../../functions/refresh/credentials-event.js';

export const RUNTIME_SCHEMAS: Readonly<Record<string, JsonShape>> = {
  TOKEN_RECORD_SCHEMA,
  REFRESH_EVENT_SCHEMA,
  CREDENTIALS_CHANGE_EVENT_SCHEMA,
  PROOF_SCHEMA,
};
