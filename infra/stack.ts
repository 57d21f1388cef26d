/**
 * The `TokenRefresher` stack: the construct from a configuration file, and the outputs an operator or
 * a consumer needs (the read function's URL, the function names). The construct acknowledges its own
 * cdk-nag findings (each with its reason), so this file needs none.
 */
import { readFileSync } from 'node:fs';
import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { RefresherConfigInput } from '../functions/core/config.js';
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
    });
    new CfnOutput(this, 'ReadFunctionUrl', {
      description:
        'The read function URL (AWS_IAM auth, SigV4 service "lambda"): GET <url>tokens/<provider>, ' +
        'POST <url>tokens/<provider>/refresh',
      value: this.refresher.readFunctionUrl.url,
    });
    new CfnOutput(this, 'ReadFunctionName', {
      description: 'The read function, for a plain Invoke {"provider":"<name>"} (serves every provider)',
      value: this.refresher.readFunction.functionName,
    });
    new CfnOutput(this, 'RefreshFunctionName', {
      description: 'The refresh function: invoke {"provider":"<name>","force":true} to refresh now',
      value: this.refresher.refreshFunction.functionName,
    });
  }
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
