/**
 * Error codes are stored (`lastErrorCode`), published in state-change events and quoted in the read
 * function's answers: whatever code an error is constructed with, only a well-formed one is kept
 * (issue 15, finding 5).
 */
import { describe, expect, it } from 'vitest';
import {
  CredentialsError,
  checkedErrorCode,
  ERROR_CODE_PATTERN,
  ProviderError,
  RefresherError,
  StoreError,
} from '../../../functions/core/errors.js';

describe('Function: checkedErrorCode', () => {
  it.each(['invalid_grant', 'http_503', 'oauth_use_dpop_nonce', 'rotation_outcome_unknown'])(
    'keeps the well-formed code %s',
    (code) => {
      // Act & Assess
      expect(checkedErrorCode(code)).toBe(code);
    },
  );

  it.each([
    'Your secret s3cr3t is wrong',
    'INVALID_GRANT',
    'oauth-error',
    '',
    '_leading',
    `x${'y'.repeat(64)}`,
    'invalid_grant\n',
  ])('replaces the malformed code %j with internal_error', (code) => {
    // Act & Assess
    expect(checkedErrorCode(code)).toBe('internal_error');
  });
});

describe('Class: RefresherError', () => {
  it.each([
    ['RefresherError', () => new RefresherError('m', 'Server said: bad key AbC', 'transient')],
    ['ProviderError', () => new ProviderError('m', 'oauth_Bad Key', 'permanent', { status: 400 })],
    ['StoreError', () => new StoreError('m', 'secret not found', 'permanent')],
    ['CredentialsError', () => new CredentialsError('m', 'Missing clientSecret')],
  ])('a %s never carries a malformed code', (_name, build) => {
    // Act
    const error = build();

    // Assess
    expect(error.code).toBe('internal_error');
    expect(error.code).toMatch(ERROR_CODE_PATTERN);
  });

  it('keeps a well-formed code and the details of a provider error', () => {
    // Act
    const error = new ProviderError('m', 'http_503', 'transient', { status: 503, retryAfterSeconds: 5 });

    // Assess
    expect(error).toMatchObject({
      code: 'http_503',
      kind: 'transient',
      details: { status: 503, retryAfterSeconds: 5 },
    });
  });
});
