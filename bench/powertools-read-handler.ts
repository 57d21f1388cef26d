/**
 * Lambda entry point of the Powertools comparison handler (see `powertools-read-app.ts`), bundled
 * by benchmark 2 exactly like `functions/read/handler.ts`.
 */
import { createPowertoolsReadHandler } from './powertools-read-app.js';

export const handler = createPowertoolsReadHandler(process.env);
