/**
 * Resolves a synthesized template's intrinsic functions the way CloudFormation does, from what the
 * deployed stack reports (each logical id's physical id), so that the template's properties can be
 * compared with what the service APIs answer. `Fn::GetAtt` is derived from the physical id with the
 * documented ARN formats (so a resource that moto made under another ARN shows up as a difference).
 * A function or attribute it does not know fails, naming it: a template that needs one more is
 * noticed, not skipped.
 */

export interface TemplateResource {
  readonly Type: string;
  readonly Properties?: Record<string, unknown>;
  readonly Metadata?: Record<string, unknown>;
  readonly DeletionPolicy?: string;
  readonly DependsOn?: string | string[];
  readonly Condition?: string;
}

export interface Template {
  readonly Resources: Record<string, TemplateResource>;
}

/** A deployed stack: where it is, and each logical id's physical id (ListStackResources). */
export interface DeployedStack {
  readonly account: string;
  readonly region: string;
  readonly stackName: string;
  readonly stackId: string;
  readonly template: Template;
  readonly physical: Readonly<Record<string, string>>;
}

const lastSegment = (value: string) => value.slice(value.lastIndexOf('/') + 1);

/** `Fn::GetAtt` by resource type and attribute, from the resource's physical id. */
const ATTRIBUTES: Record<string, (id: string, stack: DeployedStack) => string> = {
  'AWS::CloudWatch::Alarm.Arn': (name, s) => `arn:aws:cloudwatch:${s.region}:${s.account}:alarm:${name}`,
  'AWS::DynamoDB::Table.Arn': (name, s) => `arn:aws:dynamodb:${s.region}:${s.account}:table/${name}`,
  'AWS::Events::Rule.Arn': (name, s) => `arn:aws:events:${s.region}:${s.account}:rule/${name}`,
  'AWS::IAM::Role.Arn': (name, s) => `arn:aws:iam::${s.account}:role/${name}`,
  'AWS::KMS::Key.Arn': (id, s) => `arn:aws:kms:${s.region}:${s.account}:key/${id}`,
  'AWS::KMS::Key.KeyId': (id) => id,
  'AWS::Lambda::Function.Arn': (name, s) => `arn:aws:lambda:${s.region}:${s.account}:function:${name}`,
  'AWS::Logs::LogGroup.Arn': (name, s) => `arn:aws:logs:${s.region}:${s.account}:log-group:${name}:*`,
  'AWS::Scheduler::ScheduleGroup.Arn': (name, s) =>
    `arn:aws:scheduler:${s.region}:${s.account}:schedule-group/${name}`,
  'AWS::SecretsManager::Secret.Id': (arn) => arn,
  'AWS::SNS::Topic.TopicArn': (arn) => arn,
  'AWS::SNS::Topic.TopicName': (arn) => arn.slice(arn.lastIndexOf(':') + 1),
  'AWS::SQS::Queue.Arn': (url, s) => `arn:aws:sqs:${s.region}:${s.account}:${lastSegment(url)}`,
  'AWS::SQS::Queue.QueueName': (url) => lastSegment(url),
  'AWS::SQS::Queue.QueueUrl': (url) => url,
};

function pseudoParameter(name: string, stack: DeployedStack): string | undefined {
  const values: Record<string, string> = {
    'AWS::AccountId': stack.account,
    'AWS::Region': stack.region,
    'AWS::Partition': 'aws',
    'AWS::URLSuffix': 'amazonaws.com',
    'AWS::StackName': stack.stackName,
    'AWS::StackId': stack.stackId,
  };
  return values[name];
}

function ref(name: string, stack: DeployedStack): string {
  const pseudo = pseudoParameter(name, stack);
  if (pseudo !== undefined) return pseudo;
  const physical = stack.physical[name];
  if (physical === undefined) throw new Error(`Ref ${name}: no such resource in the deployed stack`);
  return physical;
}

function getAtt(logicalId: string, attribute: string, stack: DeployedStack): string {
  const type = stack.template.Resources[logicalId]?.Type;
  const derive = ATTRIBUTES[`${type}.${attribute}`];
  if (derive === undefined) {
    throw new Error(
      `Fn::GetAtt ${logicalId}.${attribute}: the rehearsal cannot resolve ${type}.${attribute}`,
    );
  }
  return derive(ref(logicalId, stack), stack);
}

function sub(template: string, variables: Record<string, unknown>, stack: DeployedStack): string {
  return template.replace(/\$\{([^}!][^}]*)\}/g, (_, name: string) => {
    if (name in variables) return String(variables[name]);
    const dot = name.indexOf('.');
    return dot < 0 ? ref(name, stack) : getAtt(name.slice(0, dot), name.slice(dot + 1), stack);
  });
}

const FUNCTIONS: Record<string, (argument: unknown, stack: DeployedStack) => unknown> = {
  Ref: (name, stack) => ref(name as string, stack),
  'Fn::GetAtt': (argument, stack) => {
    const [id, attribute] = typeof argument === 'string' ? argument.split('.', 2) : (argument as string[]);
    return getAtt(id as string, attribute as string, stack);
  },
  'Fn::Join': (argument, stack) => {
    const [separator, values] = argument as [string, unknown[]];
    return (resolveIntrinsics(values, stack) as unknown[]).join(separator);
  },
  'Fn::Sub': (argument, stack) => {
    const [template, variables] =
      typeof argument === 'string' ? [argument, {}] : (argument as [string, object]);
    return sub(template, resolveIntrinsics(variables, stack) as Record<string, unknown>, stack);
  },
  'Fn::Select': (argument, stack) => {
    const [index, values] = resolveIntrinsics(argument, stack) as [number | string, unknown[]];
    return values[Number(index)];
  },
  'Fn::Split': (argument, stack) => {
    const [separator, value] = resolveIntrinsics(argument, stack) as [string, string];
    return value.split(separator);
  },
};

/** A template value with every intrinsic function replaced by what it stands for in `stack`. */
export function resolveIntrinsics(value: unknown, stack: DeployedStack): unknown {
  if (Array.isArray(value)) return value.map((item) => resolveIntrinsics(item, stack));
  if (value === null || typeof value !== 'object') return value;
  const entries = Object.entries(value);
  const [first] = entries;
  if (entries.length === 1 && first !== undefined && (first[0] === 'Ref' || first[0].startsWith('Fn::'))) {
    const apply = FUNCTIONS[first[0]];
    if (apply === undefined)
      throw new Error(`${first[0]}: the rehearsal cannot resolve this intrinsic function`);
    return apply(first[1], stack);
  }
  return Object.fromEntries(entries.map(([key, item]) => [key, resolveIntrinsics(item, stack)]));
}
