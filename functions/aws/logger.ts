/**
 * The engine's {@link Logger} port on top of Powertools Logger (structured JSON to stdout, which
 * CloudWatch Logs ingests). Attributes are merged into the log line as keys.
 */
import { Logger as PowertoolsLogger } from '@aws-lambda-powertools/logger';
import type { Logger } from '../core/ports.js';

/** Build the port from a Powertools logger (default: service `token-refresher`). */
export function createLogger(logger = new PowertoolsLogger({ serviceName: 'token-refresher' })): Logger {
  const at =
    (level: 'debug' | 'info' | 'warn' | 'error') =>
    (message: string, attributes?: Record<string, unknown>): void => {
      if (attributes === undefined) logger[level](message);
      else logger[level](message, attributes);
    };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}
