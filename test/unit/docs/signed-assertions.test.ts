/**
 * docs/signed-assertions.md documents the fields only the signed-assertion grants have (`jwt_bearer`,
 * `github_app`; issue #16), with the same rules as the README's table: every such field, no invented
 * one, the schema's defaults, required and optional as the schema says.
 */
import { describe, expect, it } from 'vitest';
import {
  configurationReferenceProblems,
  readmeFields,
  schemaFields,
  signedAssertionFields,
} from './config-reference.js';
import { readDoc } from './markdown.js';

const DOCUMENT = 'docs/signed-assertions.md';
const TEXT = readDoc(DOCUMENT);

describe('docs/signed-assertions.md', () => {
  it('documents every field only jwt_bearer or github_app has, with the schema defaults', () => {
    // Act
    const problems = configurationReferenceProblems(TEXT, signedAssertionFields(), DOCUMENT);

    // Assess
    expect(problems).toEqual([]);
  });

  it('takes from the README exactly the fields no other grant has', () => {
    // Act
    const fields = schemaFields();
    const signed = [...signedAssertionFields(fields).keys()].sort();

    // Assess: every field is documented in one place, and the shared ones stay in the README.
    expect(signed).toEqual([
      'apiBaseUrl',
      'appId',
      'assertion',
      'assertion.audience',
      'assertion.issuer',
      'assertion.lifetime',
      'assertion.subject',
      'installationId',
      'permissions',
      'preset',
      'repositories',
    ]);
    expect(readmeFields(fields).size + signed.length).toBe(fields.size);
    expect(readmeFields(fields).get('tokenUrl')?.appliesTo).toEqual(
      new Set(['client_credentials', 'refresh_token', 'jwt_bearer']),
    );
  });

  it('names the field when a row is deleted or has a wrong default', () => {
    // Prepare
    const withoutRow = TEXT.split('\n')
      .filter((line) => !line.startsWith('| `installationId` |'))
      .join('\n');
    const withWrongDefault = TEXT.replace(
      '| `assertion.lifetime` | `jwt_bearer` | `300`',
      '| `assertion.lifetime` | `jwt_bearer` | `60`',
    );

    // Act
    const results = [withoutRow, withWrongDefault].map((markdown) =>
      configurationReferenceProblems(markdown, signedAssertionFields(), DOCUMENT),
    );

    // Assess
    expect(results).toEqual([
      [`schema field \`installationId\` is missing from the ${DOCUMENT}'s configuration table`],
      [expect.stringContaining('`assertion.lifetime` defaults to `300` in the schema')],
    ]);
  });
});
