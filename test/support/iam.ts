/**
 * Credentials on the emulator whose only permissions are a given policy: for tests that turn on
 * moto's IAM action checks (`resetAuth`) and prove a synthesized role's statements are enough.
 */
import {
  CreateAccessKeyCommand,
  CreateUserCommand,
  IAMClient,
  PutUserPolicyCommand,
} from '@aws-sdk/client-iam';
import type { AwsClientConfig } from './moto.js';

/** A statement as CloudFormation holds it: resources may be intrinsic functions (tokens). */
export interface PolicyStatement {
  readonly Effect: string;
  readonly Action: string | readonly string[];
  readonly Resource?: unknown;
}

/** The number of requests {@link createUserWithPolicy} sends (to pass to `resetAuth` beforehand). */
export const IAM_SETUP_REQUESTS = 3;

/**
 * Create an IAM user whose inline policy allows exactly `statements`' actions and return client
 * config signing as that user. moto checks actions, not resource ARNs, so resources become `*` here;
 * the template assertions check the ARNs.
 */
export async function createUserWithPolicy(
  clientConfig: AwsClientConfig,
  name: string,
  statements: readonly PolicyStatement[],
): Promise<AwsClientConfig> {
  const iam = new IAMClient(clientConfig);
  await iam.send(new CreateUserCommand({ UserName: name }));
  await iam.send(
    new PutUserPolicyCommand({
      UserName: name,
      PolicyName: `${name}-policy`,
      PolicyDocument: JSON.stringify({
        Version: '2012-10-17',
        Statement: statements.map((statement) => ({
          Effect: statement.Effect,
          Action: statement.Action,
          Resource: '*',
        })),
      }),
    }),
  );
  const { AccessKey } = await iam.send(new CreateAccessKeyCommand({ UserName: name }));
  iam.destroy();
  if (AccessKey?.AccessKeyId === undefined || AccessKey.SecretAccessKey === undefined) {
    throw new Error('moto returned no access key');
  }
  return {
    ...clientConfig,
    credentials: { accessKeyId: AccessKey.AccessKeyId, secretAccessKey: AccessKey.SecretAccessKey },
  };
}
