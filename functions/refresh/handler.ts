/**
 * The refresh Lambda. Configuration is validated at cold start (init), so a missing or invalid
 * environment variable fails the init phase with a message that names it.
 */
import { refreshHandlerFromEnvironment } from './app.js';

export const handler = refreshHandlerFromEnvironment();
