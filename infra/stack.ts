/**
 * The `TokenRefresher` stack: the construct from a configuration file, and the outputs an operator or
 * a consumer needs (the read function's URL, the function names, and for the operator CLI the table,
 * the secret prefix and the provider names). The construct acknowledges its own
 * cdk-nag findings (each with its reason), so this file needs none.
 */
import { readFileSync } from 'node:fs';
import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { RefresherConfigInput } from '../functions/core/config.js';
import { STACK_OUTPUTS } from '../functions/core/names.js';
import { TokenRefresher, type TokenRefresherProps } from './token-refresher.js';

export interface TokenRefresherStackProps extends StackProps {
  /** The configuration file's content (`secretPrefix`, `providers`). */
  readonly config: RefresherConfigInput;
  /** Construct props beyond the configuration (alarm e-mail, key, ...). */
  readonly refresher?: Omit<TokenRefresherProps, 'providers' | 'secretPrefix'>;
}

export class TokenRefresherStack extends Stack {
  readonly refresher: TokenRefresher;

  constructor(scope: Construct, id: string, props: TokenRefresherStackProps) {
    super(scope, id, props);
    this.refresher = new TokenRefresher(this, 'Refresher', {
      ...props.refresher,
      providers: props.config.providers,
      ...(props.config.secretPrefix === undefined ? {} : { secretPrefix: props.config.secretPrefix }),
      ...(props.config.trustDirectInvoke === undefined
        ? {}
        : { trustDirectInvoke: props.config.trustDirectInvoke }),
    });
    new CfnOutput(this, 'ReadFunctionUrl', {
      description:
        'The read function URL (AWS_IAM auth, SigV4 service "lambda"): GET <url>tokens/<provider>, ' +
        'POST <url>tokens/<provider>/refresh',
      value: this.refresher.readFunctionUrl.url,
    });
    new CfnOutput(this, 'ReadFunctionName', {
      description:
        "The read function: the client's functionName (caller proofs are bound to it), and the target of " +
        'a plain Invoke {"provider":"<name>","callerProof":"<proof>"}',
      value: this.refresher.readFunction.functionName,
    });
    new CfnOutput(this, STACK_OUTPUTS.refreshFunctionName, {
      description: 'The refresh function: invoke {"provider":"<name>","force":true} to refresh now',
      value: this.refresher.refreshFunction.functionName,
    });
    // What the operator CLI (functions/cli) reads in AWS mode; none of it is secret.
    new CfnOutput(this, STACK_OUTPUTS.tableName, {
      description: 'The state/lock DynamoDB table (one item per provider; token-refresher status reads it)',
      value: this.refresher.table.tableName,
    });
    if (this.refresher.tokenTable !== undefined) {
      new CfnOutput(this, STACK_OUTPUTS.tokenTableName, {
        description:
          'The DynamoDB token table of the providers with tokenStore "dynamodb" (the dynamodb client source\'s tableName)',
        value: this.refresher.tokenTable.tableName,
      });
    }
    new CfnOutput(this, STACK_OUTPUTS.secretPrefix, {
      description: 'Secrets are named <prefix>/<provider>/token and <prefix>/<provider>/credentials',
      value: this.refresher.config.secretPrefix,
    });
    providerNameChunks(this.refresher.config.providers.map((provider) => provider.name)).forEach(
      (chunk, index) => {
        new CfnOutput(
          this,
          index === 0 ? STACK_OUTPUTS.providerNames : `${STACK_OUTPUTS.providerNames}${index + 1}`,
          {
            description:
              index === 0
                ? 'The configured providers, a JSON array (continued in ProviderNames2, ... when long)'
                : `The configured providers, continued (part ${index + 1})`,
            value: JSON.stringify(chunk),
          },
        );
      },
    );
  }
}

/**
 * CloudFormation limits an output value to 4,096 characters; 100 providers with long names (up to 64
 * characters each) would not fit in one, so the names are split over several outputs.
 */
export const MAX_OUTPUT_VALUE_CHARS = 4096;

/** Split names into JSON arrays of at most {@link MAX_OUTPUT_VALUE_CHARS} characters, in order. */
export function providerNameChunks(names: readonly string[]): string[][] {
  const chunks: string[][] = [[]];
  for (const name of names) {
    const last = chunks[chunks.length - 1] ?? [];
    if (last.length > 0 && JSON.stringify([...last, name]).length > MAX_OUTPUT_VALUE_CHARS)
      chunks.push([name]);
    else last.push(name);
  }
  return chunks;
}

/** Read a configuration file (JSON). Validation happens in the construct. */
export function readConfigFile(path: string): RefresherConfigInput {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new Error(`Cannot read the token-refresher configuration "${path}"`, { cause: error });
  }
  try {
    return JSON.parse(text) as RefresherConfigInput;
  } catch (error) {
    throw new Error(`The token-refresher configuration "${path}" is not valid JSON`, { cause: error });
  }
}
