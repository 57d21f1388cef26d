/**
 * The stack outputs the operator CLI reads in AWS mode (StateTableName, SecretPrefix, ProviderNames)
 * next to the existing ones, checked on the synthesized template and parsed with the CLI's own parser.
 */
import type { Output } from '@aws-sdk/client-cloudformation';
import { describe, expect, it } from 'vitest';
import { parseProviderNames, STACK_OUTPUTS } from '../../functions/cli/target.js';
import { MAX_OUTPUT_VALUE_CHARS, providerNameChunks } from '../../infra/stack.js';
import { MAX_PROVIDERS_PER_STACK } from '../../infra/validate-props.js';
import { build, logicalIds, PROVIDERS } from './support.js';

/** The template's outputs as DescribeStacks would list them (values resolved where literal). */
function describedOutputs(outputs: Record<string, { [key: string]: unknown }>): Output[] {
  return Object.entries(outputs).map(([key, output]) => ({
    OutputKey: key,
    OutputValue: typeof output.Value === 'string' ? output.Value : JSON.stringify(output.Value),
  }));
}

describe('Stack: TokenRefresherStack outputs', () => {
  it('names the state table, the secret prefix and the providers, and keeps the existing outputs', () => {
    // Prepare
    const { template } = build();
    const [tableId] = logicalIds(template, 'AWS::DynamoDB::Table');

    // Act
    const outputs = template.findOutputs('*');

    // Assess
    expect(Object.keys(outputs).sort()).toEqual(
      [
        'ProviderNames',
        'ReadFunctionName',
        'ReadFunctionUrl',
        'RefreshFunctionName',
        'SecretPrefix',
        'StateTableName',
      ].sort(),
    );
    template.hasOutput(STACK_OUTPUTS.tableName, { Value: { Ref: tableId } });
    template.hasOutput(STACK_OUTPUTS.secretPrefix, { Value: 'token-refresher' });
    template.hasOutput(STACK_OUTPUTS.providerNames, {
      Value: JSON.stringify(PROVIDERS.map((provider) => provider.name)),
    });
    expect(parseProviderNames(describedOutputs(outputs), 'TokenRefresher')).toEqual([
      'github',
      'salesforce',
      'billing',
    ]);
  });

  it('names the DynamoDB token table when a provider keeps its token there (issue 16), and only then', () => {
    // Act
    const { template } = build({
      providers: [
        ...PROVIDERS,
        {
          name: 'short',
          grant: 'client_credentials',
          tokenUrl: 'https://a.example.com/t',
          tokenStore: 'dynamodb',
        },
      ],
    });
    const tableId = logicalIds(template, 'AWS::DynamoDB::Table', (table) => table.TableName !== undefined)[0];

    // Assess
    template.hasOutput(STACK_OUTPUTS.tokenTableName, { Value: { Ref: tableId } });
    expect(Object.keys(build().template.findOutputs('*'))).not.toContain(STACK_OUTPUTS.tokenTableName);
  });

  it('outputs a configured secret prefix', () => {
    // Act
    const { template } = build({ secretPrefix: 'prod/tokens' });

    // Assess
    template.hasOutput(STACK_OUTPUTS.secretPrefix, { Value: 'prod/tokens' });
  });

  it('splits the most long provider names a stack holds over several outputs that the CLI joins back in order', () => {
    // Prepare: 64-character names, the longest the schema allows: ~6.2 KB of JSON (92 providers; 100
    // before issue 15 made the credentials secrets cost a resource policy each).
    const providers = Array.from({ length: MAX_PROVIDERS_PER_STACK }, (_, index) => ({
      name: `provider-${String(index).padStart(3, '0')}-`.padEnd(64, 'x'),
      grant: 'client_credentials' as const,
      tokenUrl: `https://auth${index}.example.com/oauth2/token`,
    }));

    // Act
    const { template } = build({ providers });
    const outputs = template.findOutputs('*');

    // Assess
    const parts = Object.keys(outputs).filter((key) => key.startsWith('ProviderNames'));
    expect(parts.sort()).toEqual(['ProviderNames', 'ProviderNames2']);
    for (const key of parts) {
      expect(String(outputs[key]?.Value).length).toBeLessThanOrEqual(MAX_OUTPUT_VALUE_CHARS);
    }
    expect(parseProviderNames(describedOutputs(outputs), 'TokenRefresher')).toEqual(
      providers.map((provider) => provider.name),
    );
  });
});

describe('Function: providerNameChunks', () => {
  it('keeps short lists in one chunk and never exceeds the limit', () => {
    // Prepare
    const names = Array.from({ length: 300 }, (_, index) => `p${index}`.padEnd(40, 'y'));

    // Act
    const chunks = providerNameChunks(names);

    // Assess
    expect(providerNameChunks(['a', 'b'])).toEqual([['a', 'b']]);
    expect(chunks.flat()).toEqual(names);
    for (const chunk of chunks)
      expect(JSON.stringify(chunk).length).toBeLessThanOrEqual(MAX_OUTPUT_VALUE_CHARS);
    expect(chunks.length).toBe(Math.ceil(JSON.stringify(names).length / MAX_OUTPUT_VALUE_CHARS));
  });
});
