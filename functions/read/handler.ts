/**
 * The read function's Lambda entry point. The environment is validated and the clients are built
 * once per container, at cold start; a bad environment fails the cold start naming each variable.
 */
import { readHandlerFromEnvironment } from './app.js';

export const handler = readHandlerFromEnvironment();
