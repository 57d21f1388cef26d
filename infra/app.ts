/**
 * The CDK app: `npx cdk synth` builds the `TokenRefresher` stack from a configuration file, offline
 * (no account or region is resolved).
 *
 * The file: `-c config=<path>`, else `TOKEN_REFRESHER_CONFIG`, else `config/example.json`.
 * Optional: `-c alarmEmail=<address>`; `-c breakGlassPrincipals=<role or user ARN>,...` (who may read
 * the credentials besides the refresh function); `-c reservedConcurrency=false` (no reserved
 * concurrency, for accounts whose concurrency quota cannot reserve any: docs/security.md, "Reserved
 * concurrency").
 */
import { resolve } from 'node:path';
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { readConfigFile, TokenRefresherStack } from './stack.js';

const app = new App();
const configPath = resolve(
  (app.node.tryGetContext('config') as string | undefined) ??
    process.env.TOKEN_REFRESHER_CONFIG ??
    'config/example.json',
);
const alarmEmail = app.node.tryGetContext('alarmEmail') as string | undefined;
const breakGlass = app.node.tryGetContext('breakGlassPrincipals') as string | undefined;
const reservedConcurrency =
  String(app.node.tryGetContext('reservedConcurrency')) === 'false' ? false : undefined;

new TokenRefresherStack(app, 'TokenRefresher', {
  description: 'token-refresher: keeps third-party OAuth tokens fresh in Secrets Manager',
  config: readConfigFile(configPath),
  refresher: {
    ...(alarmEmail === undefined ? {} : { alarmEmail }),
    ...(breakGlass === undefined
      ? {}
      : { breakGlassPrincipals: breakGlass.split(',').map((arn) => arn.trim()) }),
    ...(reservedConcurrency === undefined ? {} : { reservedConcurrency }),
  },
});
Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
